import type { Logger } from 'pino';
import { ConfigError } from './config.js';

/**
 * Runs a service's main(): configuration errors print one readable line per bad variable and exit 2;
 * anything else is logged as fatal and exits 1. Unhandled rejections are logged, never silent.
 */
export function runMain(name: string, main: () => Promise<void>, logger?: Logger): void {
  process.on('unhandledRejection', (reason) => {
    if (logger) logger.error({ err: reason }, 'unhandled promise rejection');
    else process.stderr.write(`${name}: unhandled promise rejection: ${String(reason)}\n`);
  });
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    if (logger) logger.fatal({ err }, `${name} failed to start`);
    else process.stderr.write(`${name} failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
