/** The slice of a pino-style logger the buses use (a pino Logger satisfies it). */
export interface BusLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * A handler that throws must not break delivery to the others (in nats.js it would even stop the
 * connection's reader), so both buses catch and report here: to the logger when there is one,
 * else as a process warning (library code never writes to the console itself).
 */
export function reportHandlerError(logger: BusLogger | undefined, subject: string, err: unknown): void {
  if (logger) {
    logger.error({ err, subject }, 'bus message handler threw');
    return;
  }
  const detail = err instanceof Error ? err.stack ?? err.message : String(err);
  process.emitWarning(`bus message handler for ${subject} threw: ${detail}`, { code: 'SESSION_MESH_BUS_HANDLER' });
}
