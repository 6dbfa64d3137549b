export { MeshClient, createClient } from './client.js';
export { Payload, Push, Reply, RequestError } from './messages.js';
export { backoffCeiling, backoffDelay, drainHintMs, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { refreshDelayMs, jwtExpiresAt, DEFAULT_REFRESH_LEAD_MS } from './token.js';
export type { ResumePoint } from './resume.js';
export { decideAfterClose, SESSION_ERROR_CODES, type SessionErrorCode, type CloseDecision, type CloseFacts } from './close-policy.js';
export type {
  ClientEvents,
  ClientOptions,
  CloseInfo,
  ConnectionState,
  RequestOptions,
  ResumeInfo,
  SessionError,
  StorageLike,
  TokenProvider,
  WebSocketConstructor,
  WebSocketLike,
  Welcome,
} from './types.js';
