/**
 * The clients of a fault run and the truth about them. Client `i` is user `f<i>` with one socket
 * (session `fs<i>-<n>`, a new session per socket so a blacklist hits one socket only), preferring
 * edge i % 2 and falling back to the other one. A socket the server closes reconnects after a
 * random 100-600 ms, as a browser would. Every push payload is `<seq>`; each client records what
 * it received.
 */
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';

export interface Sock {
  readonly client: MeshClient;
  readonly conn: string;
  readonly edge: string;
  readonly openedAt: number;
}

export interface FaultClient {
  readonly index: number;
  readonly user: string;
  /** The open socket, if any. */
  sock: Sock | undefined;
  /** Pushes received: seq -> times received. */
  readonly received: Map<number, number>;
  /** Highest seq received so far, and how many arrived below it (out of order). */
  maxSeq: number;
  outOfOrder: number;
  /** Sockets this client had closed by the server / that stayed open through a fault window. */
  drops: number;
  /** Online/offline as the client sees it, with the time of each change. */
  readonly transitions: Array<{ readonly status: 'online' | 'offline'; readonly at: number }>;
  paused: boolean;
  stopped: boolean;
}

export class Population {
  readonly clients: FaultClient[] = [];
  /** Every connection id ever welcomed -> how many distinct sockets got it. */
  readonly connIds = new Map<string, number>();
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly edgeUrls: () => string[],
    size: number,
    /** Users are `<prefix><i>`, sessions `<prefix>s<i>-<n>`: two populations with other prefixes never meet. */
    private readonly prefix = 'f',
  ) {
    for (let i = 0; i < size; i++) {
      this.clients.push({ index: i, user: `${prefix}${i}`, sock: undefined, received: new Map(), maxSeq: 0, outOfOrder: 0, drops: 0, transitions: [], paused: false, stopped: false });
    }
  }

  /** Connects everyone (a few at a time) and resolves once all are open. */
  async connectAll(): Promise<void> {
    for (let i = 0; i < this.clients.length; i += 20) await Promise.all(this.clients.slice(i, i + 20).map((c) => this.connect(c)));
  }

  get collisions(): number {
    let n = 0;
    for (const count of this.connIds.values()) if (count > 1) n += count - 1;
    return n;
  }

  openCount(): number {
    return this.clients.filter((c) => c.sock !== undefined).length;
  }

  /** Closes `count` random open sockets from the client side; they come back 100-600 ms later (churn). */
  churn(count: number): void {
    const open = this.clients.filter((c) => c.sock !== undefined && !c.paused);
    for (let k = 0; k < count && open.length > 0; k++) this.leave(open.splice(Math.floor(Math.random() * open.length), 1)[0]!);
  }

  /** Clients that fled to the other edge during a fault go back to their own (before the next fault). */
  rebalance(): number {
    const away = this.clients.filter((c) => c.sock !== undefined && !c.paused && c.sock.edge !== `edge-${c.index % 2}`);
    for (const c of away) this.leave(c);
    return away.length;
  }

  private leave(c: FaultClient): void {
    c.paused = true;
    void c.sock!.client.close().finally(() => {
      setTimeout(() => {
        c.paused = false;
        void this.connect(c);
      }, 100 + Math.random() * 500);
    });
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.stopped = true;
    await Promise.all(this.clients.map((c) => c.sock?.client.close()));
  }

  private async connect(c: FaultClient, attempt = 0): Promise<void> {
    if (c.stopped || c.sock !== undefined) return;
    const urls = this.edgeUrls();
    const url = urls[(c.index + attempt) % urls.length]!;
    let client: MeshClient | undefined;
    try {
      const token = await mintToken({ sub: c.user, jti: `${this.prefix}s${c.index}-${Date.now().toString(36)}${attempt}` });
      client = await connectClient({ url, token, timeoutMs: 5000 });
    } catch {
      client = undefined;
    }
    if (client?.welcome === undefined || client.closed !== undefined) {
      client?.ws.terminate();
      if (!c.stopped) setTimeout(() => void this.connect(c, attempt + 1), 200 + Math.random() * 400);
      return;
    }
    const welcome = client.welcome;
    this.connIds.set(welcome.conn, (this.connIds.get(welcome.conn) ?? 0) + 1);
    const sock: Sock = { client, conn: welcome.conn, edge: welcome.edge, openedAt: Date.now() };
    c.sock = sock;
    c.transitions.push({ status: 'online', at: Date.now() });
    client.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data[0] !== 0x01) return;
      const seq = Number(this.decoder.decode(data.subarray(1)));
      c.received.set(seq, (c.received.get(seq) ?? 0) + 1);
      if (seq < c.maxSeq) c.outOfOrder++;
      else c.maxSeq = seq;
    });
    client.ws.on('close', () => {
      if (c.sock === sock) c.sock = undefined;
      c.transitions.push({ status: 'offline', at: Date.now() });
      if (c.paused || c.stopped) return;
      c.drops++;
      setTimeout(() => void this.connect(c), 100 + Math.random() * 500);
    });
  }
}
