import { isTokenError, type TokenVerifier } from '@session-mesh/auth';
import { NoRespondersError, RequestTimeoutError, type Bus, type HeaderValues } from '@session-mesh/bus';
import {
  CloseCode,
  encodeId,
  ErrorCode,
  Header,
  Opcode,
  parseClientBinary,
  parseClientControl,
  REPLY_HEADER_BYTES,
  writeReplyHeader,
  type ErrorCodeName,
  type ErrorFrame,
  type RefreshedFrame,
  type Subjects,
} from '@session-mesh/protocol';
import type { BlacklistView } from './blacklist-view.js';
import type { CoarseClock } from './clock.js';
import { closeConnection, Flag, sanitiseReason, type ConnState, type Group } from './connection-index.js';
import { expMs, type ConnectionIds, type RoleTable } from './identity.js';

/** Malformed frames tolerated before PROTOCOL_ERROR. */
export const MAX_STRIKES = 10;
/** REQUESTs in flight per connection before RATE_LIMITED. */
export const MAX_PENDING_REQUESTS = 64;

export interface InboundStats {
  messages: number;
  requests: number;
  badFrames: number;
  refreshes: number;
  premature: number;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Frames from clients. Identity headers are built here from server-side state only: a client
 * controls the topic and the payload bytes, never a Mesh-* header.
 */
export class Inbound {
  readonly stats: InboundStats = { messages: 0, requests: 0, badFrames: 0, refreshes: 0, premature: 0 };
  private readonly edgeToken: string;

  constructor(
    private readonly deps: {
      readonly bus: Bus;
      readonly subjects: Subjects;
      readonly ids: ConnectionIds;
      readonly clock: CoarseClock;
      readonly verifier: TokenVerifier | undefined;
      readonly blacklist: BlacklistView;
      readonly roles: RoleTable;
      readonly requestTimeoutMs: number;
    },
  ) {
    this.edgeToken = encodeId(deps.ids.edgeId);
  }

  /** uWS `message`: the ArrayBuffer is only valid until this returns. */
  onMessage(conn: ConnState, message: ArrayBuffer, isBinary: boolean): void {
    conn.lastActivityS = this.deps.clock.nowS;
    conn.flags |= Flag.ACTIVE;
    // Before welcome nothing may reach backends: they must see the connect event first. Clients
    // wait for welcome (the protocol says so); a premature frame is dropped.
    if ((conn.flags & Flag.WELCOMED) === 0) {
      this.stats.premature++;
      return;
    }
    if (isBinary) this.onBinary(conn, new Uint8Array(message));
    else this.onText(conn, message);
  }

  identityHeaders(conn: ConnState): HeaderValues {
    return {
      [Header.User]: encodedId(conn.userGroup, conn.user),
      [Header.Session]: encodedId(conn.sessionGroup, conn.session),
      [Header.Client]: encodeId(conn.client),
      [Header.Connection]: encodeId(this.deps.ids.format(conn.seq)),
      [Header.Edge]: this.edgeToken,
      [Header.Roles]: conn.roles.json,
    };
  }

  private onBinary(conn: ConnState, bytes: Uint8Array): void {
    const frame = parseClientBinary(bytes);
    if (typeof frame === 'string') {
      this.strike(conn, frame.startsWith('topic') ? ErrorCode.BAD_TOPIC : ErrorCode.BAD_FRAME, frame, requestIdOf(bytes));
      return;
    }
    const { bus, subjects } = this.deps;
    // Copy: uWS reclaims the message buffer when the handler returns; the bus may keep a reference.
    const payload = frame.payload.slice();
    if (frame.op === Opcode.MESSAGE) {
      this.stats.messages++;
      bus.publish(subjects.inbound(frame.topic), payload, this.identityHeaders(conn));
      return;
    }
    this.stats.requests++;
    if (conn.pending >= MAX_PENDING_REQUESTS) {
      closeConnection(conn, CloseCode.RATE_LIMITED, `more than ${MAX_PENDING_REQUESTS} requests in flight`);
      return;
    }
    conn.pending++;
    const id = frame.id;
    bus
      .request(subjects.inbound(frame.topic), payload, { timeoutMs: this.deps.requestTimeoutMs, headers: this.identityHeaders(conn) })
      .then(
        (reply) => {
          conn.pending--;
          if ((conn.flags & Flag.CLOSED) !== 0) return;
          const out = new Uint8Array(REPLY_HEADER_BYTES + reply.data.length);
          writeReplyHeader(out, id);
          out.set(reply.data, REPLY_HEADER_BYTES);
          sendCorked(conn, out, true);
        },
        (err: unknown) => {
          conn.pending--;
          if (err instanceof NoRespondersError) this.sendError(conn, ErrorCode.NO_RESPONDERS, 'no backend answers this topic', id);
          else if (err instanceof RequestTimeoutError) this.sendError(conn, ErrorCode.REQUEST_TIMEOUT, 'the backend did not answer in time', id);
          else this.sendError(conn, ErrorCode.REQUEST_TIMEOUT, `request failed: ${(err as Error).message}`, id);
        },
      );
  }

  private onText(conn: ConnState, message: ArrayBuffer): void {
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
  private async refresh(conn: ConnState, token: string): Promise<void> {
    const verifier = this.deps.verifier;
    if (verifier === undefined) {
      this.sendError(conn, ErrorCode.REFRESH_FAILED, 'anonymous connections have no token to refresh');
      return;
    }
    const result = await verifier.verify(token);
    if ((conn.flags & Flag.CLOSED) !== 0) return;
    if (isTokenError(result)) {
      // The connection lives on until its current token expires.
      this.sendError(conn, ErrorCode.REFRESH_FAILED, result.message);
      return;
    }
    const roles = this.deps.roles.intern(result.roles);
    if (result.userId !== conn.user || roles.json !== conn.roles.json) {
      closeConnection(conn, CloseCode.ROLES_MISMATCH, 'refreshed token names another user or other roles');
      return;
    }
    const issuedAt = result.issuedAtMs ?? undefined;
    const entry =
      this.deps.blacklist.refusing(conn.user, conn.session, issuedAt) ??
      (result.sessionId !== conn.session ? this.deps.blacklist.refusing(conn.user, result.sessionId, issuedAt) : undefined);
    if (entry !== undefined) {
      closeConnection(conn, CloseCode.SESSION_BLACKLISTED, sanitiseReason(entry.reason, 'blacklisted'));
      return;
    }
    // The session stays the connection's: its subscriptions were made for it.
    conn.iatS = result.issuedAtMs === null ? -1 : Math.floor(result.issuedAtMs / 1000);
    conn.expS = result.expiresAtMs === null ? 0 : Math.ceil(result.expiresAtMs / 1000);
    const reply: RefreshedFrame = { type: 'refreshed', expiresAt: expMs(conn.expS) };
    sendCorked(conn, JSON.stringify(reply), false);
  }

  private strike(conn: ConnState, code: ErrorCodeName, message: string, id?: number): void {
    this.stats.badFrames++;
    if (++conn.strikes > MAX_STRIKES) {
      closeConnection(conn, CloseCode.PROTOCOL_ERROR, 'too many malformed frames');
      return;
    }
    this.sendError(conn, code, message, id);
  }

  sendError(conn: ConnState, code: ErrorCodeName, message: string, id?: number): void {
    if ((conn.flags & Flag.CLOSED) !== 0) return;
    const frame: ErrorFrame = id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id };
    sendCorked(conn, JSON.stringify(frame), false);
  }
}

/** Sends from anywhere (inside or outside a uWS callback); a closed connection is skipped. */
export function sendCorked(conn: ConnState, data: Uint8Array | string, isBinary: boolean): void {
  const ws = conn.ws;
  if (ws === undefined || (conn.flags & Flag.CLOSED) !== 0) return;
  ws.cork(() => ws.send(data, isBinary));
}

function encodedId(group: Group | undefined, id: string): string {
  if (group === undefined) return encodeId(id);
  return (group.encoded ??= encodeId(id));
}

/** The request id of a malformed REQUEST, so the client can match the error to its call. */
function requestIdOf(bytes: Uint8Array): number | undefined {
  if (bytes[0] !== Opcode.REQUEST || bytes.length < 5) return undefined;
  return ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
}
