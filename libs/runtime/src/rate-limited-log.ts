import type { Logger } from 'pino';

type Level = 'error' | 'warn' | 'info' | 'debug';

/**
 * Logs at most one line per key per interval, with how many were suppressed since the last line:
 * a misbehaving peer (a flood of refused upgrades, bursts of bus errors, a bad publisher) must not
 * be a cheap way to fill disks. Keys are few and fixed by the caller (a cause, not a client value).
 */
export function createRateLimitedLog(logger: Logger, options: { intervalMs?: number; level?: Level; now?: () => number; maxKeys?: number } = {}) {
  const intervalMs = options.intervalMs ?? 10_000;
  const level = options.level ?? 'warn';
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 1000;
  const state = new Map<string, { last: number; suppressed: number }>();
  return (key: string, fields: Record<string, unknown>, message: string): void => {
    const t = now();
    const s = state.get(key);
    if (s !== undefined && t - s.last < intervalMs) {
      s.suppressed++;
      return;
    }
    logger[level]({ ...fields, suppressed: s?.suppressed ?? 0 }, message);
    // Bounded: the oldest key goes when a new one would pass the cap.
    if (s === undefined && state.size >= maxKeys) state.delete(state.keys().next().value as string);
    state.set(key, { last: t, suppressed: 0 });
  };
}

export type RateLimitedLog = ReturnType<typeof createRateLimitedLog>;

/** Anything that publishes like a bus (structural: the runtime does not depend on the bus). */
export type PublishFn = (subject: string, data: Uint8Array, headers?: Record<string, string>) => void;

/**
 * Publishing fails only on a closed bus (shutdown) or a refused subject; it must never throw out
 * of a timer or a handler. Failures are logged, rate limited per subject family.
 */
export function safePublish(publish: PublishFn, log: RateLimitedLog, message = 'could not publish'): PublishFn {
  return (subject, data, headers) => {
    try {
      publish(subject, data, headers);
    } catch (err) {
      log(`publish:${subject.split('.').slice(0, 3).join('.')}`, { err, subject }, message);
    }
  };
}
