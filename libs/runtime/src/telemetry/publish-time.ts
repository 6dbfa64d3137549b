/**
 * Push end-to-end latency: a backend (or the admin API) sets this header to the publish time in
 * milliseconds since the epoch (decimal digits); the edge observes `now - value` when it writes the
 * push to sockets. Clocks of different machines differ: the figure is only as good as their NTP.
 */
export const PUBLISHED_AT_HEADER = 'Mesh-Published-At';

/** Latency buckets in seconds, from a loopback hop to a congested cluster. */
export const PUSH_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/**
 * Parses the header value; undefined for a missing, malformed, or implausible value (in the future
 * by more than a minute of clock skew, or older than a day), so a bad header never skews the histogram.
 */
export function publishedAtAgeMs(value: string, nowMs: number): number | undefined {
  if (value === '' || value.length > 16) return undefined;
  const at = Number(value);
  if (!Number.isInteger(at)) return undefined;
  const age = nowMs - at;
  if (age < -60_000 || age > 86_400_000) return undefined;
  return age < 0 ? 0 : age;
}
