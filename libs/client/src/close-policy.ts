/**
 * What the client does after its socket closed: the single place that maps close codes to
 * reconnect decisions, following docs/protocol.md section 4.
 */
import { CloseCode, closeCodeName } from '@session-mesh/protocol';
import { backoffDelay, drainHintMs, type BackoffOptions } from './backoff.js';

/** Close codes reported to `onSessionError`: the app must act (sign in again, show a message...). */
export const SESSION_ERROR_CODES = ['UNAUTHORIZED', 'TOKEN_EXPIRED', 'ROLES_MISMATCH', 'SESSION_BLACKLISTED', 'KILLED'] as const;
export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];

export interface CloseFacts {
  readonly code: number;
  readonly reason: string;
  /** The socket had received `welcome` (a failure before it may be a refused upgrade). */
  readonly welcomed: boolean;
  /** Reconnect attempts since the last welcome (0 for the first). */
  readonly attempt: number;
  /** The app can supply a new token (a token provider or refresh handler). */
  readonly canGetToken: boolean;
}

export type CloseDecision =
  | {
      readonly action: 'reconnect';
      readonly delayMs: number;
      /** Fetch a fresh token before reconnecting. */
      readonly newToken: boolean;
      readonly sessionError?: SessionErrorCode;
    }
  | { readonly action: 'stop'; readonly sessionError?: SessionErrorCode };

const NO_RETRY: ReadonlySet<number> = new Set([
  CloseCode.NORMAL,
  CloseCode.UNAUTHORIZED,
  CloseCode.ROLES_MISMATCH,
  CloseCode.SESSION_BLACKLISTED,
  CloseCode.KILLED,
  CloseCode.PROTOCOL_ERROR,
  CloseCode.SESSION_CONFLICT,
  CloseCode.TOO_MANY_CONNECTIONS,
]);

function sessionErrorOf(code: number): SessionErrorCode | undefined {
  const name = closeCodeName(code);
  return name !== undefined && (SESSION_ERROR_CODES as readonly string[]).includes(name) ? (name as SessionErrorCode) : undefined;
}

export function decideAfterClose(facts: CloseFacts, backoff: BackoffOptions, random: () => number = Math.random): CloseDecision {
  const sessionError = sessionErrorOf(facts.code);
  const withError = sessionError === undefined ? {} : { sessionError };
  if (NO_RETRY.has(facts.code)) return { action: 'stop', ...withError };
  if (facts.code === CloseCode.TOKEN_EXPIRED) {
    // Reconnecting with the expired token would only be refused again.
    if (!facts.canGetToken) return { action: 'stop', ...withError };
    return { action: 'reconnect', delayMs: backoffDelay(facts.attempt, backoff, random), newToken: true, ...withError };
  }
  if (facts.code === CloseCode.SERVER_DRAINING) {
    // The edge spread its clients' hints already; without one, a jittered first-step backoff.
    const hint = drainHintMs(facts.reason);
    return { action: 'reconnect', delayMs: hint ?? backoffDelay(0, backoff, random), newToken: false };
  }
  if (facts.code === CloseCode.RESUME_REQUIRED && facts.welcomed) {
    // The edge may have missed durable pushes: resume at once, the replay fills the gap.
    return { action: 'reconnect', delayMs: 0, newToken: false };
  }
  // A browser sees a refused upgrade (401, 403, 503...) as 1006 before welcome: it may be the
  // token, so a fresh one is fetched when the app can give one (docs/protocol.md section 1).
  const maybeRefused = !facts.welcomed && facts.canGetToken;
  return { action: 'reconnect', delayMs: backoffDelay(facts.attempt, backoff, random), newToken: maybeRefused };
}
