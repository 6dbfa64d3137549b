/**
 * The SDK's public types. Defined here rather than imported from @session-mesh/protocol so the
 * published declarations stand alone (the protocol package is private and inlined into the bundle).
 */
import type { BackoffOptions } from './backoff.js';
import type { SessionErrorCode } from './close-policy.js';

/** The part of a WebSocket the client uses: the browser's, Node 22's global one, and `ws` all fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** sessionStorage, localStorage or anything with the same two methods. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem?(key: string): void;
}

/** Returns a token; null or undefined means "no token available" (the session cannot go on). */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientOptions {
  /** ws:// or wss:// URL of an edge (or of the load balancer in front of the edges). */
  readonly url: string;
  /**
   * A JWT, or a function returning one (sync or async). A function is called before the first
   * connect and again whenever a fresh token is needed (expiry, a refused reconnect); without a
   * `refreshHandler` it also serves as one. Leave out for anonymous meshes.
   */
  readonly token?: string | TokenProvider;
  /** Called `refreshLeadMs` ahead of the token's expiry; the token it returns is sent on the live connection. */
  readonly refreshHandler?: TokenProvider;
  /** How long before expiry to refresh (default 30 s; at most half the remaining lifetime). */
  readonly refreshLeadMs?: number;
  /** Fixed client (tab) id. Default: the one kept in `storage`, else the one the edge assigns. */
  readonly clientId?: string;
  /** Where the tab's client id is kept (default `sessionStorage` when present; null: keep it in memory). */
  readonly storage?: StorageLike | null;
  /** Storage key of the client id (default `session-mesh.client`). */
  readonly storageKey?: string;
  /** How the token travels: `protocol` (a `bearer.<jwt>` subprotocol, default) or `query` (`?token=`). */
  readonly tokenVia?: 'protocol' | 'query';
  /** Query parameter name for `tokenVia: 'query'` (default `token`). */
  readonly tokenQueryParam?: string;
  /** WebSocket implementation. Default: the global one, else the `ws` package (Node 20). */
  readonly WebSocket?: WebSocketConstructor;
  /** Reconnect backoff: full jitter in [0, min(maxMs, baseMs * 2^attempt)]. */
  readonly backoff?: Partial<BackoffOptions>;
  /** Reconnect automatically (default true). */
  readonly reconnect?: boolean;
  /** A connection attempt that sees no `welcome` within this long is abandoned and retried (default 15 s). */
  readonly connectTimeoutMs?: number;
  /** Default timeout of `request` (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Called for UNAUTHORIZED, TOKEN_EXPIRED, ROLES_MISMATCH, SESSION_BLACKLISTED and KILLED. */
  readonly onSessionError?: (error: SessionError) => void;
}

export interface Welcome {
  readonly type: 'welcome';
  readonly v: number;
  readonly user: string;
  readonly session: string;
  readonly client: string;
  readonly conn: string;
  readonly edge: string;
  readonly roles: readonly string[];
  /** Token expiry in ms since the epoch (server clock), or null. */
  readonly expiresAt: number | null;
  /** Durable pushes (when the edge has them on): the stream's epoch, the position to start from, and whether the resume was exact. */
  readonly epoch?: string;
  readonly position?: number;
  readonly recovered?: boolean;
}

/** The outcome of a reconnect that sent a stored position (the `resume` event). */
export interface ResumeInfo {
  /**
   * true: every durable push missed while away follows (each with `recovered: true`), in order.
   * false: pushes may have been missed (older than retention, stream recreated...): refetch the app's state.
   */
  readonly recovered: boolean;
  readonly epoch: string;
  /** The position the stream continues from. */
  readonly position: number;
}

export interface SessionError {
  readonly code: SessionErrorCode;
  /** The WebSocket close code (4001...4005). */
  readonly closeCode: number;
  readonly reason: string;
}

export interface CloseInfo {
  readonly code: number;
  /** The protocol's name for the code (e.g. SERVER_DRAINING), when it has one. */
  readonly name: string | undefined;
  readonly reason: string;
  /** Whether the client will reconnect by itself, and after how long. */
  readonly willReconnect: boolean;
  readonly delayMs: number | undefined;
}

export interface ClientEvents extends Record<string, unknown> {
  state: { readonly state: ConnectionState; readonly previous: ConnectionState };
  welcome: Welcome;
  close: CloseInfo;
  /** Problems that do not end the session: a failed refresh, an error frame, a throwing listener. */
  error: Error;
  sessionError: SessionError;
  /** A reconnect that sent a stored position was answered: recovered or not. */
  resume: ResumeInfo;
  /** A token refresh was accepted; the new expiry (ms since the epoch) or null. */
  refreshed: { readonly expiresAt: number | null };
}

export interface RequestOptions {
  /** Default: the client's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
}
