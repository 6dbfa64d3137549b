/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay in
 * [0, min(cap, base * 2^attempt)]), so clients dropped together do not come back together.
 */
export interface BackoffOptions {
  /** The first ceiling, in ms (default 500). */
  readonly baseMs: number;
  /** The largest ceiling, in ms (default 30 s). */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** The ceiling of attempt `attempt` (0-based): min(maxMs, baseMs * 2^attempt). */
export function backoffCeiling(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  // 2^31 overflows nothing in doubles, but capping the exponent keeps Infinity out of the product.
  const exp = Math.min(Math.max(0, Math.floor(attempt)), 30);
  return Math.min(options.maxMs, options.baseMs * 2 ** exp);
}

/** A full-jitter delay for attempt `attempt`; `random` returns [0, 1) like Math.random. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  return Math.floor(random() * (backoffCeiling(attempt, options) + 1));
}

/** Longest drain hint honoured (a malformed or hostile reason cannot park a client for hours). */
export const MAX_DRAIN_HINT_MS = 60_000;

/**
 * The reconnect delay an edge asks for in a SERVER_DRAINING close reason
 * (`... retry-after-ms=<n>`), or undefined when the reason carries none.
 */
export function drainHintMs(reason: string): number | undefined {
  const match = /retry-after-ms=(\d{1,9})/.exec(reason);
  if (match === null) return undefined;
  return Math.min(Number(match[1]), MAX_DRAIN_HINT_MS);
}
