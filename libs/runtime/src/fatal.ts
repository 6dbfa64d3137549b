import type { Logger } from 'pino';
import { ConfigError } from './config.js';

/**
 * Runs a service's main(): configuration errors print one readable line per bad variable and exit 2;
 * anything else is logged as fatal and exits 1. Unhandled rejections and uncaught exceptions are
 * JSON log lines (never plain text on stderr); an uncaught exception leaves the process in an
 * unknown state, so it exits 1 after logging.
 */
export function runMain(name: string, main: () => Promise<void>, logger?: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  const log = (level: 'error' | 'fatal', err: unknown, message: string) => {
    if (logger) logger[level]({ err }, message);
    else process.stderr.write(`${JSON.stringify({ level: level === 'fatal' ? 60 : 50, time: new Date().toISOString(), pid: process.pid, name, err: describe(err), msg: message })}\n`);
  };
  process.on('unhandledRejection', (reason) => log('error', reason, 'unhandled promise rejection'));
  process.on('uncaughtException', (err) => {
    log('fatal', err, 'uncaught exception: exiting');
    exit(1);
  });
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      exit(2);
      return;
    }
    log('fatal', err, `${name} failed to start`);
    exit(1);
  });
}

function describe(err: unknown): { type: string; message: string; stack?: string } {
  if (err instanceof Error) return { type: err.name, message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) };
  return { type: typeof err, message: String(err) };
}
