/**
 * The Session Mesh client: one logical session over a succession of WebSockets. It owns the socket,
 * the reconnect timer, the token refresh timer and the pending requests; the decisions themselves
 * (backoff, what a close code means, when to refresh) live in pure modules beside it.
 */
import {
  BEARER_SUBPROTOCOL_PREFIX,
  CloseCode,
  closeCodeName,
  encodeMessageFrame,
  encodeRequestFrame,
  ErrorCode,
  Opcode,
  parseServerBinary,
  SUBPROTOCOL,
} from '@session-mesh/protocol';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { decideAfterClose, type CloseDecision } from './close-policy.js';
import { Emitter } from './emitter.js';
import { Push, Reply, RequestError } from './messages.js';
import { PushQueue } from './push-queue.js';
import { ResumeState } from './resume.js';
import { jwtExpiresAt, refreshDelayMs, DEFAULT_REFRESH_LEAD_MS } from './token.js';
import type {
  ClientEvents,
  ClientOptions,
  CloseInfo,
  ConnectionState,
  RequestOptions,
  SessionError,
  StorageLike,
  TokenProvider,
  WebSocketConstructor,
  WebSocketLike,
  Welcome,
} from './types.js';

const DEFAULT_STORAGE_KEY = 'session-mesh.client';
const OPEN = 1;
/** setTimeout's largest delay (2^31 - 1 ms); longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;
/** Close code the client uses when it gives up on a socket itself (no welcome in time). */
const CLIENT_GAVE_UP = 4000;
const encoder = new TextEncoder();

interface PendingRequest {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: RequestError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  /** The frame, while it waits for a connection; undefined once sent. */
  frame: Uint8Array | undefined;
}

let wsModule: Promise<WebSocketConstructor> | undefined;

/** The platform WebSocket, else the `ws` package (Node 20 has no global WebSocket). */
function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined) return Promise.resolve(global);
  // A computed specifier (minifiers fold a plain variable back into a literal): bundlers leave it
  // alone, so browser bundles never pull `ws` in.
  const name = 'w'.concat('s');
  wsModule ??= (import(/* @vite-ignore */ /* webpackIgnore: true */ name) as Promise<{ default: WebSocketConstructor }>).then(
    (m) => m.default,
    () => {
      throw new Error('no WebSocket implementation: install the `ws` package or pass options.WebSocket');
    },
  );
  return wsModule;
}

function defaultStorage(): StorageLike | null {
  try {
    return (globalThis as { sessionStorage?: StorageLike }).sessionStorage ?? null;
  } catch {
    // Access throws in sandboxed iframes and with storage disabled.
    return null;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class MeshClient {
  private readonly events = new Emitter<ClientEvents>();
  private readonly backoff: BackoffOptions;
  private readonly storage: StorageLike | null;
  private readonly storageKey: string;
  private readonly pushHandlers = new Set<(push: Push) => void>();
  private readonly queues = new Set<PushQueue<Push>>();
  private readonly pending = new Map<number, PendingRequest>();
  private readonly resume: ResumeState;

  private currentState: ConnectionState = 'idle';
  private socket: WebSocketLike | undefined;
  private token: string | undefined;
  private needToken = true;
  private attempt = 0;
  private nextRequestId = 1;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private lastWelcome: Welcome | undefined;
  private storedClientId: string | undefined;
  /** Bumped by every stop and every new socket, so late callbacks of an old one do nothing. */
  private generation = 0;
  private connectWaiters: { resolve: (w: Welcome) => void; reject: (err: Error) => void }[] = [];
  private removeOnlineListener: (() => void) | undefined;

  constructor(private readonly options: ClientOptions) {
    if (!/^wss?:\/\//i.test(options.url)) throw new Error(`url must start with ws:// or wss://, got ${JSON.stringify(options.url)}`);
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.storageKey = options.storageKey ?? DEFAULT_STORAGE_KEY;
    this.resume = new ResumeState(this.storage, `${this.storageKey}.resume`);
    if (typeof options.token === 'string') this.setToken(options.token);
    if (options.onSessionError !== undefined) this.events.on('sessionError', options.onSessionError);
  }

  /** The connection's state: idle (never connected), connecting, open, reconnecting (waiting), closed. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The last `welcome` (user, session, client, connection and edge ids, roles, expiry). */
  get welcome(): Welcome | undefined {
    return this.lastWelcome;
  }

  /** The tab's client id: given, stored, or assigned by the edge at the first welcome. */
  get clientId(): string | undefined {
    return this.options.clientId ?? this.lastWelcome?.client ?? this.readStoredClientId();
  }

  on<K extends keyof ClientEvents & string>(event: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  onSessionError(listener: (error: SessionError) => void): () => void {
    return this.events.on('sessionError', listener);
  }

  /** Calls `handler` for every push, in order of arrival. Returns an unsubscribe function. */
  onPush(handler: (push: Push) => void): () => void {
    this.pushHandlers.add(handler);
    return () => this.pushHandlers.delete(handler);
  }

  /** An async iterator over pushes from now on; it ends when the client closes for good. */
  pushes(): AsyncIterableIterator<Push> {
    const queue = new PushQueue<Push>((q) => this.queues.delete(q));
    if (this.currentState === 'closed') queue.end();
    else this.queues.add(queue);
    return queue;
  }

  /**
   * Connects (or reconnects after a stop: a session error, close(), or the app asking again after
   * KILLED). Resolves at the next `welcome`; rejects if the client stops before one arrives.
   */
  connect(): Promise<Welcome> {
    const waiter = new Promise<Welcome>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === 'open' && this.lastWelcome !== undefined) this.settleWaiters(this.lastWelcome);
    else if (this.currentState === 'idle' || this.currentState === 'closed') {
      this.attempt = 0;
      this.watchOnline();
      this.setState('connecting');
      void this.openSocket();
    } else if (this.currentState === 'reconnecting') this.reconnectNow();
    return waiter;
  }

  /** Closes the connection and stops reconnecting. Pending requests fail with DISCONNECTED; iterators end. */
  close(code = 1000, reason = 'client closed'): void {
    this.stop({ code, name: closeCodeName(code), reason, willReconnect: false, delayMs: undefined });
  }

  /**
   * Ends the session: closes like `close()` and forgets what would resume it (the stored durable
   * position, and the token: a later `connect()` asks the token provider again, or needs
   * `updateToken()` first). The client id stays: it names the tab, not the session.
   */
  endSession(reason = 'session ended'): void {
    this.close(1000, reason);
    this.resume.clear();
    this.token = undefined;
    this.needToken = true;
  }

  /** The stored durable position and its epoch, sent on the next (re)connect. */
  get position(): { readonly epoch: string; readonly position: number } | undefined {
    return this.resume.current;
  }

  /**
   * Uses `token` from now on: sent at once over the live connection (a `refresh` frame; the
   * connection keeps its session), or used by the next connect.
   */
  updateToken(token: string): void {
    this.setToken(token);
    const socket = this.socket;
    if (this.currentState === 'open' && socket !== undefined && socket.readyState === OPEN) socket.send(JSON.stringify({ type: 'refresh', token }));
  }

  /** Fire-and-forget message to backends on `<prefix>.in.<topic>`. Returns false when not connected (nothing sent). */
  send(topic: string, payload: Uint8Array | string): boolean {
    const frame = encodeMessageFrame(topic, typeof payload === 'string' ? encoder.encode(payload) : payload);
    const socket = this.socket;
    if (this.currentState !== 'open' || socket === undefined || socket.readyState !== OPEN) return false;
    socket.send(frame);
    return true;
  }

  /**
   * Request/reply: resolves with the backend's reply, or rejects with a RequestError. A request made
   * while (re)connecting waits for the connection within its timeout.
   */
  request(topic: string, payload: Uint8Array | string, options: RequestOptions = {}): Promise<Reply> {
    if (this.currentState === 'closed' || this.currentState === 'idle') {
      return Promise.reject(new RequestError('NOT_CONNECTED', `client is ${this.currentState}: call connect() first`));
    }
    const id = this.allocateRequestId();
    const frame = encodeRequestFrame(id, topic, typeof payload === 'string' ? encoder.encode(payload) : payload);
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 10_000;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError('TIMEOUT', `no answer to ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      const request: PendingRequest = { resolve, reject, timer, frame };
      this.pending.set(id, request);
      if (this.currentState === 'open') this.flushRequest(request);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Connection lifecycle

  private async openSocket(): Promise<void> {
    const generation = ++this.generation;
    let token: string | undefined;
    let WebSocketImpl: WebSocketConstructor;
    try {
      token = await this.tokenForConnect();
      WebSocketImpl = this.options.WebSocket ?? (await defaultWebSocket());
    } catch (err) {
      if (generation !== this.generation) return;
      this.emitError(asError(err));
      this.afterClose({ code: 1006, reason: `could not connect: ${asError(err).message}` }, false);
      return;
    }
    if (generation !== this.generation) return;
    if (token === undefined && this.options.token !== undefined) {
      // The token expired or is gone (endSession) and nothing can give a new one: the session cannot go on.
      if (this.token !== undefined) this.afterClose({ code: CloseCode.TOKEN_EXPIRED, reason: 'token expired and no new token available' }, false);
      else this.afterClose({ code: CloseCode.UNAUTHORIZED, reason: 'no token: pass one to updateToken() or give a token provider' }, false);
      return;
    }
    const url = new URL(this.options.url);
    const clientId = this.clientId;
    if (clientId !== undefined) url.searchParams.set('client', clientId);
    const resumeFrom = this.resume.current;
    if (resumeFrom !== undefined) {
      url.searchParams.set('position', String(resumeFrom.position));
      url.searchParams.set('epoch', resumeFrom.epoch);
    }
    const protocols = [SUBPROTOCOL];
    if (token !== undefined) {
      if (this.options.tokenVia === 'query') url.searchParams.set(this.options.tokenQueryParam ?? 'token', token);
      else protocols.push(BEARER_SUBPROTOCOL_PREFIX + token);
    }
    let socket: WebSocketLike;
    try {
      socket = new WebSocketImpl(url.toString(), protocols);
    } catch (err) {
      this.emitError(asError(err));
      this.afterClose({ code: 1006, reason: asError(err).message }, false);
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    let welcomed = false;
    socket.onmessage = (event) => {
      if (generation !== this.generation) return;
      const data = event.data;
      if (typeof data === 'string') {
        if (this.onControl(data, resumeFrom !== undefined) && !welcomed) {
          welcomed = true;
          clearTimeout(this.connectTimer);
        }
      } else if (data instanceof ArrayBuffer) this.onBinary(new Uint8Array(data));
    };
    socket.onclose = (event) => {
      if (generation !== this.generation) return;
      this.afterClose({ code: event.code, reason: event.reason }, welcomed);
    };
    // Errors are always followed by a close event, which decides what happens next; reported for
    // logs (`ws` says why, e.g. "Unexpected server response: 401"; browsers say nothing).
    socket.onerror = (event) => {
      if (generation !== this.generation) return;
      const message = (event as { message?: unknown }).message;
      this.emitError(new Error(`WebSocket error: ${typeof message === 'string' && message.length > 0 ? message : 'connection failed'}`));
    };
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 15_000;
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (generation !== this.generation || welcomed) return;
      socket.close(CLIENT_GAVE_UP, 'no welcome in time');
      // Do not wait for the close handshake of a socket that never opened.
      this.afterClose({ code: 1006, reason: `no welcome within ${connectTimeoutMs} ms` }, false);
    }, connectTimeoutMs);
  }

  /** The token for the next connection attempt, fetching a fresh one when needed and possible. */
  private async tokenForConnect(): Promise<string | undefined> {
    const source = this.options.token;
    if (source === undefined) return undefined;
    const expiresAt = this.token === undefined ? undefined : jwtExpiresAt(this.token);
    const stale = this.token === undefined || this.needToken || (expiresAt !== undefined && expiresAt <= Date.now());
    if (!stale) return this.token;
    const provider = this.tokenProvider();
    if (provider === undefined) {
      // A static token: use it unless it visibly expired (the edge would only refuse it).
      return expiresAt !== undefined && expiresAt <= Date.now() ? undefined : this.token;
    }
    const fresh = await provider();
    if (typeof fresh !== 'string' || fresh.length === 0) return undefined;
    this.setToken(fresh);
    return fresh;
  }

  private tokenProvider(): TokenProvider | undefined {
    const source = this.options.token;
    return typeof source === 'function' ? source : this.options.refreshHandler;
  }

  private setToken(token: string): void {
    this.token = token;
    this.needToken = false;
  }

  /** Handles a text frame; returns true when it was the welcome. */
  private onControl(text: string, sentPosition: boolean): boolean {
    let frame: { type?: unknown; [key: string]: unknown };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      this.emitError(new Error('edge sent a control frame that is not JSON'));
      return false;
    }
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame as unknown as Welcome, sentPosition);
        return true;
      case 'position':
        this.resume.onPositionFrame(frame['position']);
        return false;
      case 'refreshed': {
        const expiresAt = typeof frame['expiresAt'] === 'number' ? frame['expiresAt'] : null;
        this.scheduleRefresh(expiresAt);
        this.events.emit('refreshed', { expiresAt }, this.listenerError);
        return false;
      }
      case 'error': {
        const code = String(frame['code']);
        const message = String(frame['message']);
        const id = frame['id'];
        const request = typeof id === 'number' ? this.pending.get(id) : undefined;
        if (request !== undefined) {
          this.pending.delete(id as number);
          clearTimeout(request.timer);
          request.reject(new RequestError(code, message));
        } else {
          if (code === ErrorCode.REFRESH_FAILED) this.retryRefreshSoon();
          this.emitError(Object.assign(new Error(`${code}: ${message}`), { code }));
        }
        return false;
      }
      default:
        // Unknown control frames are ignored (docs/protocol.md section 6).
        return false;
    }
  }

  private onBinary(bytes: Uint8Array): void {
    const frame = parseServerBinary(bytes);
    if (typeof frame === 'string') {
      this.emitError(new Error(`edge sent a malformed binary frame: ${frame}`));
      return;
    }
    if (frame.op === Opcode.PUSH) {
      this.deliver(new Push(frame.payload, undefined, undefined));
      return;
    }
    if (frame.op === Opcode.DURABLE_PUSH) {
      // Not above the stored position: a duplicate (docs/protocol.md section 6, rule 4).
      if (this.resume.accept(frame.position)) this.deliver(new Push(frame.payload, frame.position, this.resume.replaying ? true : undefined));
      return;
    }
    const request = this.pending.get(frame.id);
    if (request === undefined) return; // timed out already
    this.pending.delete(frame.id);
    clearTimeout(request.timer);
    request.resolve(new Reply(frame.payload));
  }

  private deliver(push: Push): void {
    for (const handler of this.pushHandlers) {
      try {
        handler(push);
      } catch (err) {
        this.listenerError(err);
      }
    }
    for (const queue of this.queues) queue.push(push);
  }

  private onWelcome(welcome: Welcome, sentPosition: boolean): void {
    this.lastWelcome = welcome;
    this.attempt = 0;
    if (this.options.clientId === undefined) this.storeClientId(welcome.client);
    const resumed = this.resume.onWelcome(welcome, sentPosition);
    this.setState('open');
    this.scheduleRefresh(welcome.expiresAt);
    for (const request of this.pending.values()) this.flushRequest(request);
    this.events.emit('welcome', welcome, this.listenerError);
    if (sentPosition && resumed.kind !== 'none') {
      const { epoch, position } = resumed.point;
      this.events.emit('resume', { recovered: resumed.kind === 'recovered', epoch, position }, this.listenerError);
    }
    this.settleWaiters(welcome);
  }

  private afterClose(closed: { code: number; reason: string }, welcomed: boolean): void {
    this.generation++;
    this.detachSocket();
    this.failPending('DISCONNECTED', `connection closed (${closed.code}) before the answer`, true);
    const decision: CloseDecision =
      this.options.reconnect === false
        ? { action: 'stop' }
        : decideAfterClose(
            { code: closed.code, reason: closed.reason, welcomed, attempt: this.attempt, canGetToken: this.tokenProvider() !== undefined },
            this.backoff,
          );
    if (decision.sessionError !== undefined) {
      this.events.emit('sessionError', { code: decision.sessionError, closeCode: closed.code, reason: closed.reason }, this.listenerError);
    }
    const info: CloseInfo = {
      code: closed.code,
      name: closeCodeName(closed.code),
      reason: closed.reason,
      willReconnect: decision.action === 'reconnect',
      delayMs: decision.action === 'reconnect' ? decision.delayMs : undefined,
    };
    if (decision.action === 'stop') {
      this.stop(info);
      return;
    }
    if (decision.newToken) this.needToken = true;
    this.attempt++;
    this.events.emit('close', info, this.listenerError);
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => this.reconnectNow(), decision.delayMs);
  }

  private reconnectNow(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.currentState !== 'reconnecting') return;
    this.setState('connecting');
    void this.openSocket();
  }

  /** Stops for good (until connect()): closes the socket, clears timers, fails requests, ends iterators. */
  private stop(info: CloseInfo): void {
    const wasClosed = this.currentState === 'closed' || this.currentState === 'idle';
    this.generation++;
    const socket = this.socket;
    this.detachSocket();
    if (socket !== undefined && socket.readyState <= OPEN) socket.close(info.code >= 4000 || info.code === 1000 ? info.code : 1000, info.reason);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.removeOnlineListener?.();
    this.removeOnlineListener = undefined;
    this.failPending('DISCONNECTED', `client closed (${info.code} ${info.reason})`, false);
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(Object.assign(new Error(`closed: ${info.code} ${info.reason}`), { close: info }));
    if (wasClosed) return;
    this.events.emit('close', info, this.listenerError);
    this.setState('closed');
    for (const queue of this.queues) queue.end();
    this.queues.clear();
  }

  private detachSocket(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onopen = null;
    // A late error from a socket we gave up on must not become an unhandled 'error' event (ws).
    socket.onerror = () => undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Token refresh

  private scheduleRefresh(expiresAt: number | null): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const provider = this.tokenProvider();
    if (provider === undefined) return;
    const delay = refreshDelayMs(expiresAt, Date.now(), this.options.refreshLeadMs ?? DEFAULT_REFRESH_LEAD_MS);
    if (delay === undefined) return;
    const generation = this.generation;
    this.refreshTimer = setTimeout(
      () => {
        if (generation !== this.generation) return;
        if (delay > MAX_TIMER_MS) this.scheduleRefresh(expiresAt);
        else void this.refreshNow(provider, generation, expiresAt);
      },
      Math.min(delay, MAX_TIMER_MS),
    );
  }

  private async refreshNow(provider: TokenProvider, generation: number, expiresAt: number | null): Promise<void> {
    let token: string | null | undefined;
    try {
      token = await provider();
    } catch (err) {
      if (generation !== this.generation) return;
      this.emitError(new Error(`refreshHandler failed: ${asError(err).message}`));
      this.retryRefreshSoon(expiresAt);
      return;
    }
    if (generation !== this.generation) return;
    // No token: the connection ends at expiry with TOKEN_EXPIRED, reported through onSessionError.
    if (typeof token === 'string' && token.length > 0) this.updateToken(token);
  }

  /** After a failed refresh: try again halfway to the expiry (the connection lives until then). */
  private retryRefreshSoon(expiresAt: number | null = this.lastWelcome?.expiresAt ?? null): void {
    if (expiresAt === null) return;
    const provider = this.tokenProvider();
    if (provider === undefined) return;
    const wait = Math.floor((expiresAt - Date.now()) / 2);
    if (wait < 500) return;
    clearTimeout(this.refreshTimer);
    const generation = this.generation;
    this.refreshTimer = setTimeout(() => {
      if (generation === this.generation) void this.refreshNow(provider, generation, expiresAt);
    }, wait);
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private flushRequest(request: PendingRequest): void {
    const socket = this.socket;
    if (request.frame === undefined || socket === undefined || socket.readyState !== OPEN) return;
    socket.send(request.frame);
    request.frame = undefined;
  }

  /** Fails pending requests; with `keepUnsent`, those still waiting for a connection wait on (a reconnect). */
  private failPending(code: string, message: string, keepUnsent: boolean): void {
    for (const [id, request] of this.pending) {
      if (keepUnsent && request.frame !== undefined) continue;
      this.pending.delete(id);
      clearTimeout(request.timer);
      request.reject(new RequestError(code, message));
    }
  }

  private allocateRequestId(): number {
    for (;;) {
      const id = this.nextRequestId;
      this.nextRequestId = id >= 0xffffffff ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private settleWaiters(welcome: Welcome): void {
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve(welcome);
  }

  private setState(state: ConnectionState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    this.events.emit('state', { state, previous }, this.listenerError);
  }

  private readStoredClientId(): string | undefined {
    if (this.storedClientId !== undefined) return this.storedClientId;
    try {
      const stored = this.storage?.getItem(this.storageKey);
      if (typeof stored === 'string' && stored.length > 0) this.storedClientId = stored;
    } catch {
      // Storage can throw (quota, privacy modes): the id then lives in memory only.
    }
    return this.storedClientId;
  }

  private storeClientId(id: string): void {
    this.storedClientId = id;
    try {
      this.storage?.setItem(this.storageKey, id);
    } catch {
      // As above: memory only.
    }
  }

  /** Browsers: when the network comes back, reconnect at once instead of waiting out the backoff. */
  private watchOnline(): void {
    const target = globalThis as { addEventListener?: (type: string, fn: () => void) => void; removeEventListener?: (type: string, fn: () => void) => void };
    if (this.removeOnlineListener !== undefined || typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return;
    const onOnline = () => {
      this.attempt = 0;
      this.reconnectNow();
    };
    target.addEventListener('online', onOnline);
    this.removeOnlineListener = () => target.removeEventListener!('online', onOnline);
  }

  private emitError(err: Error): void {
    this.events.emit('error', err, () => undefined);
  }

  private readonly listenerError = (err: unknown): void => {
    this.emitError(new Error(`a listener threw: ${asError(err).message}`));
  };
}

/** Creates a client; call `connect()` to start. */
export function createClient(options: ClientOptions): MeshClient {
  return new MeshClient(options);
}
