import type { BusMessage } from '@session-mesh/bus';
import { CloseCode, Header, Opcode, tryDecodeId } from '@session-mesh/protocol';
import { closeConnection, Flag, type ConnState, type Group, type SocketLike } from './connection-index.js';

/** Never equal to a real id (ids cannot contain control characters): matches nobody. */
const NOBODY = '\u0000';

// One static cork callback instead of a closure per recipient: the hot path allocates nothing.
let corkSocket: SocketLike | undefined;
let corkFrame: Uint8Array | undefined;
let corkStatus = 0;
function corkedSend(): void {
  corkStatus = corkSocket!.send(corkFrame!, true);
}

/** uWS send() results (current builds return a number, not a boolean). */
export const SendStatus = { BACKPRESSURE: 0, SUCCESS: 1, DROPPED: 2 } as const;

export interface FanoutStats {
  /** Frames handed to sockets (sent or buffered). */
  deliveries: number;
  /** Frames uWS refused at its hard backpressure limit. */
  drops: number;
  /** Connections closed with SLOW_CONSUMER. */
  slowConsumers: number;
  /** Pushes with a narrowing header that is not a valid encoded id (delivered to nobody). */
  badHeaders: number;
  broadcasts: number;
}

/**
 * Delivers pushes from the bus to sockets: builds the PUSH frame once per bus message into a
 * reusable scratch buffer (uWS copies synchronously on send) and sends the same bytes to each
 * matching connection. A connection whose send buffer passes the backpressure limit is closed
 * with SLOW_CONSUMER rather than buffered without bound.
 *
 * uWS's own maxBackpressure is set above our limit (see server.ts) so that the close frame still
 * fits: at uWS's limit even the close frame would be dropped and the client would see 1006.
 */
export class Fanout {
  readonly stats: FanoutStats = { deliveries: 0, drops: 0, slowConsumers: 0, badHeaders: 0, broadcasts: 0 };
  private scratch = new Uint8Array(64 * 1024);
  private readonly slow: ConnState[] = [];

  constructor(
    private readonly backpressureLimit: number,
    /** Sends a frame to every welcomed socket (uWS app.publish), returns how many it reached. */
    private readonly publishToAll: (frame: Uint8Array) => number,
  ) {}

  /** The PUSH frame for a payload: a view into the scratch buffer, valid until the next call. */
  pushFrame(payload: Uint8Array): Uint8Array {
    const length = payload.length + 1;
    if (this.scratch.length < length) {
      let size = this.scratch.length;
      while (size < length) size *= 2;
      this.scratch = new Uint8Array(size);
    }
    this.scratch[0] = Opcode.PUSH;
    this.scratch.set(payload, 1);
    return this.scratch.subarray(0, length);
  }

  /** A push to `<prefix>.push.user.<user>`: Mesh-Session and Mesh-Client narrow it. */
  readonly deliverToUser = (group: Group, msg: BusMessage): void => {
    this.deliver(group, msg, true);
  };

  /** A push to `<prefix>.push.session.<session>`: Mesh-Client narrows it. */
  readonly deliverToSession = (group: Group, msg: BusMessage): void => {
    this.deliver(group, msg, false);
  };

  /** A push to `<prefix>.push.all`. */
  readonly deliverBroadcast = (msg: BusMessage): void => {
    this.stats.broadcasts++;
    this.stats.deliveries += this.publishToAll(this.pushFrame(msg.data));
  };

  private deliver(group: Group, msg: BusMessage, bySession: boolean): void {
    let session: string | undefined;
    let client: string | undefined;
    const headers = msg.headers;
    if (headers !== undefined) {
      // Decode the header once per message and compare raw ids: nothing per connection.
      if (bySession) {
        const value = headers.get(Header.Session);
        if (value !== '') session = tryDecodeId(value) ?? NOBODY;
      }
      const value = headers.get(Header.Client);
      if (value !== '') client = tryDecodeId(value) ?? NOBODY;
      if (session === NOBODY || client === NOBODY) {
        this.stats.badHeaders++;
        return;
      }
    }
    const conns = group.conns;
    let frame: Uint8Array | undefined;
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      // Not welcomed yet: the client has not been told it exists; closed: gone.
      if ((conn.flags & (Flag.WELCOMED | Flag.CLOSED)) !== Flag.WELCOMED) continue;
      if (session !== undefined && conn.session !== session) continue;
      if (client !== undefined && conn.client !== client) continue;
      frame ??= this.pushFrame(msg.data);
      this.send(conn, frame);
    }
    if (this.slow.length > 0) this.closeSlow();
  }

  /** Sends one frame to one connection, counting the outcome. */
  send(conn: ConnState, frame: Uint8Array): void {
    const ws = conn.ws!;
    corkSocket = ws;
    corkFrame = frame;
    ws.cork(corkedSend);
    corkSocket = undefined;
    corkFrame = undefined;
    if (corkStatus === SendStatus.SUCCESS) {
      this.stats.deliveries++;
    } else if (corkStatus === SendStatus.BACKPRESSURE) {
      // Buffered: fine while the buffer stays under the limit.
      this.stats.deliveries++;
      if (ws.getBufferedAmount() > this.backpressureLimit) this.slow.push(conn);
    } else {
      this.stats.drops++;
      this.slow.push(conn);
    }
  }

  /** Closes a connection found over the limit outside a delivery (the sweeper, after broadcasts). */
  closeSlowConsumer(conn: ConnState): void {
    if (closeConnection(conn, CloseCode.SLOW_CONSUMER, 'slow consumer')) this.stats.slowConsumers++;
  }

  isOverLimit(conn: ConnState): boolean {
    return conn.ws !== undefined && (conn.flags & Flag.CLOSED) === 0 && conn.ws.getBufferedAmount() > this.backpressureLimit;
  }

  // Closing runs the close handler, which edits group arrays: never inside the delivery loop.
  private closeSlow(): void {
    for (let i = 0; i < this.slow.length; i++) this.closeSlowConsumer(this.slow[i]!);
    this.slow.length = 0;
  }
}
