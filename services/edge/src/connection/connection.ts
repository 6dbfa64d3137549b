import { CloseCode, type ResumePoint } from '@session-mesh/protocol';
import type { Identity, RoleSet } from './identity.js';
import { SendStatus, type SocketLike } from './socket.js';
import type { Group } from '../hub/hub.js';

/**
 * The life of a connection, in order. Transitions happen only in connection/connections.ts
 * (open, subscribed, welcome, close); nothing else writes `state`.
 *
 *   ADMITTED     the upgrade was accepted (token verified); no socket yet
 *   SUBSCRIBING  the socket is open and in the hub; waiting for NATS to confirm its subscriptions
 *   WELCOMED     `welcome` sent and the connect event published: pushes flow, frames are accepted
 *   CLOSED       uWS ran the close handler; the socket must not be touched again
 */
export const State = { ADMITTED: 0, SUBSCRIBING: 1, WELCOMED: 2, CLOSED: 3 } as const;
export type StateValue = (typeof State)[keyof typeof State];

/** Small per-connection booleans in one integer. */
export const Mark = {
  /** A frame arrived since the last heartbeat (presence activity). */
  ACTIVE: 1,
  /** The idle sweep sent a ping and waits for any answer. */
  PINGED: 2,
  /** The edge closed it (its reason is the cause); otherwise the client did. */
  ENDED_BY_EDGE: 4,
} as const;

export interface OutboundStats {
  /** Frames handed to sockets (sent at once or buffered), every kind. */
  frames: number;
  /** Frames uWS refused at its hard backpressure limit. */
  drops: number;
  /** Connections closed with SLOW_CONSUMER. */
  slowConsumers: number;
}

// One static cork callback instead of a closure per send: the hot path allocates nothing.
let corkSocket: SocketLike | undefined;
let corkData: Uint8Array | string = '';
let corkBinary = false;
let corkStatus = 0;
function corkedSend(): void {
  corkStatus = corkSocket!.send(corkData, corkBinary);
}
function corkedPing(): void {
  corkSocket!.ping();
}

/**
 * What every connection of one edge shares (one pointer per connection): the backpressure limit,
 * the outbound counters, and the queue of connections to close for reading too slowly.
 *
 * Slow consumers are closed in a microtask, never inside the send that found them: closing runs
 * the close handler, which edits the hub's arrays while a fan-out may be iterating them.
 */
export class ConnectionShared {
  readonly outbound: OutboundStats = { frames: 0, drops: 0, slowConsumers: 0 };
  private readonly slow: Connection[] = [];
  private closeScheduled = false;

  constructor(
    /** Bytes buffered for one socket past which it is closed with SLOW_CONSUMER. */
    readonly backpressureLimit: number,
  ) {}

  markSlow(conn: Connection): void {
    this.slow.push(conn);
    if (!this.closeScheduled) {
      this.closeScheduled = true;
      queueMicrotask(this.closeSlow);
    }
  }

  /** Closes every connection marked slow so far (also called directly by sweeps). */
  readonly closeSlow = (): void => {
    this.closeScheduled = false;
    for (let i = 0; i < this.slow.length; i++) {
      if (this.slow[i]!.close(CloseCode.SLOW_CONSUMER, 'slow consumer')) this.outbound.slowConsumers++;
    }
    this.slow.length = 0;
  };
}

/**
 * One client connection: uWS's user data, created at upgrade. It owns THE one send (every frame a
 * client receives goes through `send`, so every frame counts against the backpressure limit) and
 * THE one close. Kept lean on purpose (multiplied by every connection): ids shared with the hub's
 * groups, interned roles, times in whole seconds, small integers.
 */
export class Connection {
  ws: SocketLike | undefined = undefined;
  state: StateValue = State.ADMITTED;
  marks = 0;
  /** Malformed frames received; enough of them closes the connection. */
  strikes = 0;
  /** REQUESTs waiting for a backend reply. */
  pending = 0;
  /** Inbound rate limit: thousandths of tokens left (-1: full bucket not given yet) and when last refilled (whole ms, monotonic). */
  tokens = -1;
  refilledAtMs = 0;
  /** Coarse clock (s) when any frame or pong last arrived: the idle sweep's measure. */
  lastSeenS: number;
  /** The hub's groups this connection belongs to (set by the hub). */
  userGroup: Group | undefined = undefined;
  sessionGroup: Group | undefined = undefined;
  user: string;
  session: string;
  readonly client: string;
  roles: RoleSet;
  iatS: number;
  expS: number;
  /** Durable pushes: the highest position this connection has (live ones at or below are skipped). */
  floor = 0;
  /** Durable pushes arriving before welcome and while the replay is read; undefined once live. */
  held: HeldPushes | undefined = undefined;
  /** Where the client asked to resume from (until welcome). */
  resume: ResumePoint | undefined;

  constructor(
    readonly shared: ConnectionShared,
    readonly seq: number,
    identity: Identity,
    readonly connectedAtMs: number,
    /** Coarse clock, whole seconds: last frame from the client (presence activity). */
    public lastActivityS: number,
  ) {
    this.user = identity.user;
    this.session = identity.session;
    this.client = identity.client;
    this.roles = identity.roles;
    this.iatS = identity.iatS;
    this.expS = identity.expS;
    this.lastSeenS = lastActivityS;
    this.resume = identity.resume;
  }

  get isWelcomed(): boolean {
    return this.state === State.WELCOMED;
  }

  get isClosed(): boolean {
    return this.state === State.CLOSED;
  }

  /**
   * Sends one frame, corked (sends from NATS callbacks happen outside uWS's own cork). All three
   * uWS results are handled: sent; buffered (fine below the limit, else the connection is closed
   * as a slow consumer); dropped at uWS's hard limit (counted, and the connection is closed: a
   * client that silently misses frames is worse than one told to reconnect). Returns whether the
   * frame was handed to the socket.
   */
  send(data: Uint8Array | string, isBinary: boolean): boolean {
    const ws = this.ws;
    if (ws === undefined || this.state === State.CLOSED) return false;
    corkSocket = ws;
    corkData = data;
    corkBinary = isBinary;
    ws.cork(corkedSend);
    corkSocket = undefined;
    corkData = '';
    const shared = this.shared;
    if (corkStatus === SendStatus.SUCCESS) {
      shared.outbound.frames++;
      return true;
    }
    if (corkStatus === SendStatus.BACKPRESSURE) {
      shared.outbound.frames++;
      if (ws.getBufferedAmount() > shared.backpressureLimit) shared.markSlow(this);
      return true;
    }
    shared.outbound.drops++;
    shared.markSlow(this);
    return false;
  }

  /** Whether the socket's send buffer is past the limit (sweeps check it after broadcasts). */
  isOverLimit(): boolean {
    return this.ws !== undefined && this.state !== State.CLOSED && this.ws.getBufferedAmount() > this.shared.backpressureLimit;
  }

  ping(): void {
    const ws = this.ws;
    if (ws === undefined || this.state === State.CLOSED) return;
    corkSocket = ws;
    ws.cork(corkedPing);
    corkSocket = undefined;
  }

  /**
   * Closes with a protocol close code and a reason. Safe to call twice, and on connections not
   * open yet or already closed (returns false then). uWS runs the close handler inside `end`.
   */
  close(code: number, reason: string): boolean {
    if (this.state === State.CLOSED || this.ws === undefined) return false;
    this.marks |= Mark.ENDED_BY_EDGE;
    this.ws.end(code, reason);
    return true;
  }
}

/** Durable pushes held for a connection that is not live yet (copied: the bus's buffers are reused). */
export class HeldPushes {
  readonly seqs: number[] = [];
  readonly payloads: Uint8Array[] = [];
  /** More arrived than the cap: the connection must resume again (4014). */
  overflow = false;

  constructor(private readonly cap: number) {}

  add(seq: number, payload: Uint8Array): void {
    if (this.seqs.length >= this.cap) {
      this.overflow = true;
      return;
    }
    this.seqs.push(seq);
    this.payloads.push(payload.slice());
  }
}

/** WebSocket close reasons are limited to 123 bytes; ours are short ASCII. */
const MAX_REASON_BYTES = 120;

/**
 * Turns an untrusted reason (a kill header, a blacklist entry) into a safe close reason:
 * printable ASCII only, at most 120 bytes.
 */
export function sanitiseReason(reason: string | undefined, fallback: string): string {
  if (reason === undefined) return fallback;
  const clean = reason.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_REASON_BYTES);
  return clean === '' ? fallback : clean;
}
