import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** One JSON logger per process; services take child loggers named after their role. */
export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  const pinoOptions: LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
