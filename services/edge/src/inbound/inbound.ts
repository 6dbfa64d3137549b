import { isTokenError, type TokenVerifier } from '@session-mesh/auth';
import { NoRespondersError, RequestTimeoutError } from '@session-mesh/bus';
import {
  CloseCode,
  encodeId,
  ErrorCode,
  Header,
  Opcode,
  parseClientBinary,
  parseClientControl,
  REPLY_HEADER_BYTES,
  requestIdOf,
  writeReplyHeader,
  type ErrorCodeName,
  type ErrorFrame,
  type RefreshedFrame,
} from '@session-mesh/protocol';
import type { EdgeBroker } from '../broker/edge-broker.js';
import type { CoarseClock } from '../clock.js';
import { Mark, sanitiseReason, State, type Connection } from '../connection/connection.js';
import { expMs, expS, iatS, type ConnectionIds, type RoleTable } from '../connection/identity.js';
import type { BlacklistView } from '../control/blacklist-view.js';
import type { Group } from '../hub/hub.js';
import type { InboundRateLimit } from './rate-limit.js';

/** Malformed frames tolerated before PROTOCOL_ERROR (docs/protocol.md says so). */
export const MAX_STRIKES = 10;
/** REQUESTs in flight per connection before RATE_LIMITED. */
export const MAX_PENDING_REQUESTS = 64;

export interface InboundStats {
  messages: number;
  requests: number;
  badFrames: number;
  refreshes: number;
  premature: number;
  rateLimited: number;
  tooLarge: number;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Frames from clients to backends. Identity headers are built here from server-side state only: a
 * client controls the topic and the payload bytes, never a Mesh-* header. Every answer (reply,
 * error, refreshed) leaves through the connection's one send, so it counts against the
 * connection's buffer limit like pushes do.
 */
export class Inbound {
  readonly stats: InboundStats = { messages: 0, requests: 0, badFrames: 0, refreshes: 0, premature: 0, rateLimited: 0, tooLarge: 0 };
  private readonly edgeToken: string;

  constructor(
    private readonly deps: {
      readonly broker: EdgeBroker;
      readonly ids: ConnectionIds;
      readonly clock: CoarseClock;
      readonly verifier: TokenVerifier | undefined;
      readonly blacklist: BlacklistView;
      readonly roles: RoleTable;
      readonly rateLimit: InboundRateLimit;
      readonly requestTimeoutMs: number;
      readonly maxMessageBytes: number;
    },
  ) {
    this.edgeToken = encodeId(deps.ids.edgeId);
  }

  /** uWS `message`: the ArrayBuffer is only valid until this returns. */
  onMessage(conn: Connection, message: ArrayBuffer, isBinary: boolean): void {
    const now = this.deps.clock.nowS;
    conn.lastActivityS = now;
    conn.lastSeenS = now;
    conn.marks = (conn.marks | Mark.ACTIVE) & ~Mark.PINGED;
    if (!this.deps.rateLimit.take(conn)) {
      this.stats.rateLimited++;
      conn.close(CloseCode.RATE_LIMITED, 'too many frames: slow down');
      return;
    }
    if (message.byteLength > this.deps.maxMessageBytes) {
      // uWS lets messages up to twice the limit through so that the close is a clean 1009.
      this.stats.tooLarge++;
      this.sendError(conn, ErrorCode.TOO_LARGE, `message larger than ${this.deps.maxMessageBytes} bytes`);
      conn.close(1009, 'message too large');
      return;
    }
    // Before welcome nothing may reach backends: they must see the connect event first. Clients
    // wait for welcome (the protocol says so); a premature frame is dropped.
    if (conn.state !== State.WELCOMED) {
      this.stats.premature++;
      return;
    }
    if (isBinary) this.onBinary(conn, new Uint8Array(message));
    else this.onText(conn, message);
  }

  /** A fresh object per frame: tracing may add its traceparent to it. */
  identityHeaders(conn: Connection): Record<string, string> {
    return {
      [Header.User]: encodedId(conn.userGroup, conn.user),
      [Header.Session]: encodedId(conn.sessionGroup, conn.session),
      [Header.Client]: encodeId(conn.client),
      [Header.Connection]: encodeId(this.deps.ids.format(conn.seq)),
      [Header.Edge]: this.edgeToken,
      [Header.Roles]: conn.roles.json,
    };
  }

  private onBinary(conn: Connection, bytes: Uint8Array): void {
    const frame = parseClientBinary(bytes);
    if (typeof frame === 'string') {
      this.strike(conn, frame.startsWith('topic') ? ErrorCode.BAD_TOPIC : ErrorCode.BAD_FRAME, frame, requestIdOf(bytes));
      return;
    }
    const broker = this.deps.broker;
    // Copy: uWS reclaims the message buffer when the handler returns; the bus may keep a reference.
    const payload = frame.payload.slice();
    if (frame.op === Opcode.MESSAGE) {
      this.stats.messages++;
      if (!broker.publishInbound(frame.topic, payload, this.identityHeaders(conn))) {
        this.sendError(conn, ErrorCode.REQUEST_FAILED, 'the message could not be published');
      }
      return;
    }
    this.stats.requests++;
    if (conn.pending >= MAX_PENDING_REQUESTS) {
      conn.close(CloseCode.RATE_LIMITED, `more than ${MAX_PENDING_REQUESTS} requests in flight`);
      return;
    }
    conn.pending++;
    const id = frame.id;
    broker.requestInbound(frame.topic, payload, this.identityHeaders(conn), this.deps.requestTimeoutMs).then(
      (reply) => {
        conn.pending--;
        if (conn.state === State.CLOSED) return;
        const out = new Uint8Array(REPLY_HEADER_BYTES + reply.data.length);
        writeReplyHeader(out, id);
        out.set(reply.data, REPLY_HEADER_BYTES);
        conn.send(out, true);
      },
      (err: unknown) => {
        conn.pending--;
        if (err instanceof NoRespondersError) this.sendError(conn, ErrorCode.NO_RESPONDERS, 'no backend answers this topic', id);
        else if (err instanceof RequestTimeoutError) this.sendError(conn, ErrorCode.REQUEST_TIMEOUT, 'the backend did not answer in time', id);
        else this.sendError(conn, ErrorCode.REQUEST_FAILED, `request failed: ${(err as Error).message}`.slice(0, 200), id);
      },
    );
  }

  private onText(conn: Connection, message: ArrayBuffer): void {
    let text: string;
    try {
      text = textDecoder.decode(message);
    } catch {
      this.strike(conn, ErrorCode.BAD_FRAME, 'text frame is not UTF-8');
      return;
    }
    const frame = parseClientControl(text);
    if (typeof frame === 'string') {
      this.strike(conn, ErrorCode.BAD_FRAME, frame);
      return;
    }
    this.stats.refreshes++;
    void this.refresh(conn, frame.token);
  }

  /** A fresh token for a live connection: same user and roles, or the connection must reconnect. */
  private async refresh(conn: Connection, token: string): Promise<void> {
    const verifier = this.deps.verifier;
    if (verifier === undefined) {
      this.sendError(conn, ErrorCode.REFRESH_FAILED, 'anonymous connections have no token to refresh');
      return;
    }
    const result = await verifier.verify(token);
    if (conn.state === State.CLOSED) return;
    if (isTokenError(result)) {
      // The connection lives on until its current token expires.
      this.sendError(conn, ErrorCode.REFRESH_FAILED, result.message);
      return;
    }
    const roles = this.deps.roles.intern(result.roles);
    if (result.userId !== conn.user || roles.json !== conn.roles.json) {
      conn.close(CloseCode.ROLES_MISMATCH, 'refreshed token names another user or other roles');
      return;
    }
    const issuedAt = result.issuedAtMs ?? undefined;
    const entry =
      this.deps.blacklist.refusing(conn.user, conn.session, issuedAt) ??
      (result.sessionId !== conn.session ? this.deps.blacklist.refusing(conn.user, result.sessionId, issuedAt) : undefined);
    if (entry !== undefined) {
      conn.close(CloseCode.SESSION_BLACKLISTED, sanitiseReason(entry.reason, 'blacklisted'));
      return;
    }
    // The session stays the connection's: its subscriptions were made for it.
    conn.iatS = iatS(result);
    conn.expS = expS(result);
    const reply: RefreshedFrame = { type: 'refreshed', expiresAt: expMs(conn.expS) };
    conn.send(JSON.stringify(reply), false);
  }

  private strike(conn: Connection, code: ErrorCodeName, message: string, id?: number): void {
    this.stats.badFrames++;
    if (++conn.strikes > MAX_STRIKES) {
      conn.close(CloseCode.PROTOCOL_ERROR, 'too many malformed frames');
      return;
    }
    this.sendError(conn, code, message, id);
  }

  private sendError(conn: Connection, code: ErrorCodeName, message: string, id?: number): void {
    if (conn.state === State.CLOSED) return;
    const frame: ErrorFrame = id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id };
    conn.send(JSON.stringify(frame), false);
  }
}

function encodedId(group: Group | undefined, id: string): string {
  if (group === undefined) return encodeId(id);
  return (group.encoded ??= encodeId(id));
}
