/** Token timing: when to refresh ahead of expiry. Pure functions, so they are tested without clocks. */

/** Default lead: refresh this long before the token expires. */
export const DEFAULT_REFRESH_LEAD_MS = 30_000;
/** Never refresh more often than this, whatever the token's lifetime (a token valid for 1 s stays usable). */
export const MIN_REFRESH_DELAY_MS = 1_000;

/**
 * How long to wait before refreshing a token that expires at `expiresAt` (ms since the epoch):
 * `leadMs` before expiry, but at most half of the remaining lifetime ahead (a token that lives
 * 40 s with a 30 s lead is refreshed after 20 s, not after 10), and at once when already inside
 * the lead. Returns undefined for tokens without expiry.
 */
export function refreshDelayMs(expiresAt: number | null | undefined, now: number, leadMs: number = DEFAULT_REFRESH_LEAD_MS): number | undefined {
  if (expiresAt === null || expiresAt === undefined || !Number.isFinite(expiresAt)) return undefined;
  const remaining = expiresAt - now;
  if (remaining <= 0) return 0;
  const lead = Math.min(Math.max(0, leadMs), remaining / 2);
  return Math.max(0, Math.floor(remaining - lead));
}

/**
 * The `exp` claim of a JWT in ms since the epoch, read WITHOUT verifying anything (the edge
 * verifies); undefined when the token is not a JWT or has no numeric exp. Lets the client notice a
 * token that already expired before it connects with it.
 */
export function jwtExpiresAt(token: string): number | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((part.length + 3) % 4));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
