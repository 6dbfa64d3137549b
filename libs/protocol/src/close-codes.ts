/**
 * WebSocket close codes sent by an edge. Numbers are stable: clients switch on them.
 * `retry` tells a client whether reconnecting (with backoff) can help without user action;
 * `refreshToken` whether it must obtain a new token first.
 */
export const CloseCode = {
  /** Normal end requested by the client or server. */
  NORMAL: 1000,
  /** Token missing, malformed, badly signed or otherwise refused after connect. */
  UNAUTHORIZED: 4001,
  /** The token expired and no fresh one was sent on the live connection in time. */
  TOKEN_EXPIRED: 4002,
  /** A refreshed token names another user or other roles than the connection's. */
  ROLES_MISMATCH: 4003,
  /** The session (or its user) was blacklisted. */
  SESSION_BLACKLISTED: 4004,
  /** A backend or operator killed this user, session, client or connection. */
  KILLED: 4005,
  /** The client read too slowly: the send buffer passed the edge's backpressure limit. */
  SLOW_CONSUMER: 4006,
  /** The client sent more than its limits allow. */
  RATE_LIMITED: 4007,
  /** The edge is shutting down: reconnect (to another edge) shortly. */
  SERVER_DRAINING: 4008,
  /** The client sent a frame that breaks the protocol. */
  PROTOCOL_ERROR: 4009,
  /** The edge could not subscribe for this connection (for example NATS max_subs reached). Retry later. */
  SERVER_OVERLOADED: 4010,
  /** The client answered no ping for the idle timeout (half-open network, frozen tab). */
  IDLE_TIMEOUT: 4011,
  /** The token's session id is held by another user's connection on this edge (an issuer reused a jti). */
  SESSION_CONFLICT: 4012,
  /** The user has more connections than the operator allows (per edge or across the cluster). */
  TOO_MANY_CONNECTIONS: 4013,
  /** The edge may have missed durable pushes for this connection: reconnect at once with the last position. */
  RESUME_REQUIRED: 4014,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeNumber = (typeof CloseCode)[CloseCodeName];

export interface CloseCodeAdvice {
  readonly retry: boolean;
  readonly refreshToken: boolean;
}

export const closeCodeAdvice: Readonly<Record<CloseCodeName, CloseCodeAdvice>> = {
  NORMAL: { retry: false, refreshToken: false },
  UNAUTHORIZED: { retry: false, refreshToken: true },
  TOKEN_EXPIRED: { retry: true, refreshToken: true },
  ROLES_MISMATCH: { retry: true, refreshToken: true },
  SESSION_BLACKLISTED: { retry: false, refreshToken: false },
  KILLED: { retry: false, refreshToken: false },
  SLOW_CONSUMER: { retry: true, refreshToken: false },
  RATE_LIMITED: { retry: true, refreshToken: false },
  SERVER_DRAINING: { retry: true, refreshToken: false },
  PROTOCOL_ERROR: { retry: false, refreshToken: false },
  SERVER_OVERLOADED: { retry: true, refreshToken: false },
  IDLE_TIMEOUT: { retry: true, refreshToken: false },
  SESSION_CONFLICT: { retry: false, refreshToken: true },
  TOO_MANY_CONNECTIONS: { retry: false, refreshToken: false },
  RESUME_REQUIRED: { retry: true, refreshToken: false },
};

const byNumber = new Map<number, CloseCodeName>(
  (Object.entries(CloseCode) as [CloseCodeName, number][]).map(([name, code]) => [code, name]),
);

export function closeCodeName(code: number): CloseCodeName | undefined {
  return byNumber.get(code);
}
