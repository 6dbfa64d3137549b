/**
 * The SDK's pure decisions, on generated input: backoff with full jitter, the drain hint, what each
 * close code leads to, and when a token is refreshed.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '@session-mesh/protocol';
import { backoffCeiling, backoffDelay, decideAfterClose, DEFAULT_BACKOFF, drainHintMs, jwtExpiresAt, refreshDelayMs } from '@session-mesh/client';
import { drainReason } from '../../../services/edge/src/drain.js';
import { mintToken } from '../../../test/support/tokens.js';

const backoff = fc.record({ baseMs: fc.integer({ min: 1, max: 10_000 }), maxMs: fc.integer({ min: 1, max: 600_000 }) });
const attempt = fc.integer({ min: 0, max: 1000 });
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoff with full jitter', () => {
  test.prop([backoff, attempt, unit])('a delay lies in [0, min(max, base * 2^attempt)]', (options, n, r) => {
    const delay = backoffDelay(n, options, () => r);
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThanOrEqual(Math.min(options.maxMs, options.baseMs * 2 ** Math.min(n, 30)));
    expect(Number.isInteger(delay)).toBe(true);
  });

  test.prop([backoff, attempt])('the ceiling never shrinks as attempts grow, and stops at maxMs', (options, n) => {
    expect(backoffCeiling(n + 1, options)).toBeGreaterThanOrEqual(backoffCeiling(n, options));
    expect(backoffCeiling(n, options)).toBeLessThanOrEqual(options.maxMs);
  });

  it('is full jitter: the random draw spans zero to the ceiling', () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.999_999_9)).toBe(4000);
    expect(backoffDelay(100, DEFAULT_BACKOFF, () => 0.999_999_9)).toBe(30_000);
  });
});

describe('the drain hint', () => {
  test.prop([fc.integer({ min: 0, max: 60_000 })])('reads the delay the edge writes into its close reason', (jitter) => {
    const reason = drainReason(jitter);
    const hint = drainHintMs(reason);
    expect(hint).toBeDefined();
    expect(hint!).toBeGreaterThanOrEqual(0);
    expect(hint!).toBeLessThanOrEqual(jitter);
    expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(123);
  });

  it('is capped, and absent from other reasons', () => {
    expect(drainHintMs('retry-after-ms=999999999')).toBe(60_000);
    expect(drainHintMs('server draining')).toBeUndefined();
    expect(drainHintMs('retry-after-ms=-5')).toBeUndefined();
  });
});

describe('what a close leads to', () => {
  const facts = fc.record({
    reason: fc.string({ maxLength: 40 }),
    welcomed: fc.boolean(),
    attempt,
    canGetToken: fc.boolean(),
  });
  const neverAgain = [CloseCode.UNAUTHORIZED, CloseCode.ROLES_MISMATCH, CloseCode.SESSION_BLACKLISTED, CloseCode.KILLED, CloseCode.NORMAL, CloseCode.PROTOCOL_ERROR, CloseCode.SESSION_CONFLICT, CloseCode.TOO_MANY_CONNECTIONS];

  test.prop([fc.constantFrom(...neverAgain), facts])('never reconnects after a code that forbids it', (code, f) => {
    expect(decideAfterClose({ code, ...f }, DEFAULT_BACKOFF).action).toBe('stop');
  });

  test.prop([fc.constantFrom(1001, 1006, 1009, 1011, 1012, CloseCode.SLOW_CONSUMER, CloseCode.RATE_LIMITED, CloseCode.SERVER_OVERLOADED, CloseCode.IDLE_TIMEOUT, 4999), facts, unit])(
    'reconnects after transient closes, within the backoff of its attempt',
    (code, f, r) => {
      const decision = decideAfterClose({ code, ...f }, DEFAULT_BACKOFF, () => r);
      expect(decision.action).toBe('reconnect');
      if (decision.action !== 'reconnect') return;
      expect(decision.delayMs).toBeLessThanOrEqual(backoffCeiling(f.attempt));
      // A failure before welcome may be a refused token: fetch a new one when the app can.
      expect(decision.newToken).toBe(!f.welcomed && f.canGetToken);
      expect(decision.sessionError).toBeUndefined();
    },
  );

  test.prop([facts])('reports exactly the five session errors, with their names', (f) => {
    const names = { 4001: 'UNAUTHORIZED', 4002: 'TOKEN_EXPIRED', 4003: 'ROLES_MISMATCH', 4004: 'SESSION_BLACKLISTED', 4005: 'KILLED' } as const;
    for (let code = 4000; code <= 4020; code++) {
      const expected = (names as Record<number, string>)[code];
      expect(decideAfterClose({ code, ...f }, DEFAULT_BACKOFF).sessionError).toBe(expected);
    }
  });

  test.prop([facts])('TOKEN_EXPIRED reconnects with a new token only when the app can give one', (f) => {
    const decision = decideAfterClose({ code: CloseCode.TOKEN_EXPIRED, ...f }, DEFAULT_BACKOFF);
    expect(decision).toMatchObject(f.canGetToken ? { action: 'reconnect', newToken: true } : { action: 'stop' });
  });

  test.prop([facts, fc.integer({ min: 0, max: 60_000 })])('SERVER_DRAINING waits exactly the hint, whatever the attempt', (f, jitter) => {
    const reason = drainReason(jitter);
    const decision = decideAfterClose({ ...f, code: CloseCode.SERVER_DRAINING, reason }, DEFAULT_BACKOFF);
    expect(decision).toEqual({ action: 'reconnect', delayMs: drainHintMs(reason), newToken: false });
  });

  test.prop([facts])('RESUME_REQUIRED after a welcome reconnects at once', (f) => {
    const decision = decideAfterClose({ ...f, code: CloseCode.RESUME_REQUIRED, welcomed: true }, DEFAULT_BACKOFF);
    expect(decision).toEqual({ action: 'reconnect', delayMs: 0, newToken: false });
  });
});

describe('token refresh timing', () => {
  const now = fc.integer({ min: 0, max: 2 ** 42 });
  const lifetime = fc.integer({ min: -100_000, max: 10 * 86_400_000 });
  const lead = fc.integer({ min: 0, max: 600_000 });

  test.prop([now, lifetime, lead])('refreshes before expiry, at most `lead` early and never before half the remaining life', (t, life, leadMs) => {
    const delay = refreshDelayMs(t + life, t, leadMs)!;
    expect(delay).toBeGreaterThanOrEqual(0);
    if (life <= 0) {
      expect(delay).toBe(0);
      return;
    }
    expect(delay).toBeLessThanOrEqual(leadMs > 0 ? Math.ceil(life - Math.min(leadMs, life / 2)) : life);
    expect(delay).toBeGreaterThanOrEqual(Math.floor(life - leadMs));
    expect(delay).toBeGreaterThanOrEqual(Math.floor(life / 2));
  });

  it('does not refresh tokens without expiry', () => {
    expect(refreshDelayMs(null, 1000)).toBeUndefined();
    expect(refreshDelayMs(undefined, 1000)).toBeUndefined();
  });

  it('reads exp from a real JWT without verifying it, and nothing from junk', async () => {
    const token = await mintToken({ sub: 'u', expiresInS: 120 });
    const exp = jwtExpiresAt(token)!;
    expect(Math.abs(exp - (Date.now() + 120_000))).toBeLessThan(5_000);
    expect(jwtExpiresAt(await mintToken({ sub: 'u', expiresInS: null }))).toBeUndefined();
    expect(jwtExpiresAt('not-a-jwt')).toBeUndefined();
    expect(jwtExpiresAt('a.!!!.c')).toBeUndefined();
  });
});
