import type { Logger } from '@session-mesh/runtime';

/**
 * Logs at most one line per key per interval, with how many were suppressed since the last line:
 * a misbehaving publisher must not flood the logs.
 */
export function createRateLimitedLog(logger: Logger, intervalMs = 10_000, now: () => number = Date.now) {
  const state = new Map<string, { last: number; suppressed: number }>();
  return (key: string, fields: Record<string, unknown>, message: string): void => {
    const t = now();
    const s = state.get(key);
    if (s !== undefined && t - s.last < intervalMs) {
      s.suppressed++;
      return;
    }
    logger.warn({ ...fields, suppressed: s?.suppressed ?? 0 }, message);
    state.set(key, { last: t, suppressed: 0 });
  };
}

export type RateLimitedLog = ReturnType<typeof createRateLimitedLog>;
