import { pino, type Logger, type LoggerOptions } from 'pino';
import { traceLogFields } from './telemetry/tracing.js';

export type { Logger } from 'pino';

/**
 * One JSON logger per process; services take child loggers named after their role. `traceIds`
 * adds trace_id / span_id to lines written inside a span (a pino mixin, run for every line): pass
 * tracingRequested(env), so a process without tracing pays nothing for it.
 */
export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream; traceIds?: boolean }): Logger {
  const pinoOptions: LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(options.traceIds === true ? { mixin: traceLogFields } : {}),
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
