import { SendStatus, type SocketLike } from '../../src/connection/socket.js';

/** A socket for unit tests of pure logic (hub, connection): records what it is asked to do. */
export class FakeSocket implements SocketLike {
  readonly sent: string[] = [];
  ended: [number | undefined, string | undefined] | undefined;
  corked = 0;
  pings = 0;
  constructor(
    public status: number = SendStatus.SUCCESS,
    public buffered = 0,
    /** What uWS's close handler would do (it runs inside end()). */
    public onEnd?: (code: number | undefined, reason: string | undefined) => void,
  ) {}
  send(message: Uint8Array | string): number {
    // Copy like uWS does: the scratch buffer is reused for the next message.
    this.sent.push(typeof message === 'string' ? message : Buffer.from(message).toString('hex'));
    return this.status;
  }
  ping(): number {
    this.pings++;
    return SendStatus.SUCCESS;
  }
  cork(cb: () => void) {
    this.corked++;
    cb();
    return this;
  }
  end(code?: number, reason?: string) {
    this.ended = [code, reason];
    this.onEnd?.(code, reason);
  }
  getBufferedAmount() {
    return this.buffered;
  }
}
