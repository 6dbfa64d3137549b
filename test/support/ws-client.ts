import { waitFor as pollUntil } from './wait-for.js';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { WelcomeFrame } from '@session-mesh/protocol';

/**
 * A protocol-aware test client for edges (real `ws` sockets). It records everything the server
 * sends, so tests await conditions instead of sleeping. Framing is written out here rather than
 * imported, so the tests also check the wire format independently of the edge's own code.
 */

export const SUBPROTOCOL = 'session-mesh.v1';
const OP_PUSH = 0x01;
const OP_MESSAGE = 0x02;
const OP_REQUEST = 0x03;
const OP_REPLY = 0x04;
const OP_DURABLE_PUSH = 0x05;

export type TokenVia = 'header' | 'protocol' | 'query' | 'cookie';

export interface ConnectOptions {
  /** ws://host:port[/path] */
  readonly url: string;
  readonly token?: string;
  /** Where to put the token (default header). */
  readonly via?: TokenVia;
  /** `client` query parameter (the tab id). */
  readonly client?: string;
  readonly origin?: string;
  /** Extra request headers (e.g. a malformed Authorization header). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Offer `session-mesh.v1` (default true). */
  readonly subprotocol?: boolean;
  /** Query parameter / cookie names when the edge is configured differently. */
  readonly tokenQueryParam?: string;
  readonly tokenCookie?: string;
  /** Resume point for durable pushes (`position` and `epoch` query parameters). */
  readonly resume?: { readonly position: number | string; readonly epoch: string };
  /** Resolve on `open` instead of waiting for `welcome` (default: wait). */
  readonly waitForWelcome?: boolean;
  readonly timeoutMs?: number;
}

/** The welcome frame as the protocol defines it. */
export type WelcomeLike = WelcomeFrame;

export interface ControlFrame {
  readonly type: string;
  readonly [key: string]: unknown;
}

export interface Refused {
  readonly status: number;
  readonly body: string;
  readonly headers: IncomingMessage['headers'];
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

export interface Reply {
  readonly id: number;
  readonly payload: Uint8Array;
}

type Falsy = undefined | null | false | 0 | '';

/** Polls `predicate` (sync or async) until it is truthy (returns its value) or the timeout passes. */
export function waitFor<T>(predicate: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  return pollUntil(async () => (await predicate()) || undefined, { timeoutMs, intervalMs: 5, what });
}

export class MeshClient {
  readonly pushes: Uint8Array[] = [];
  /** DURABLE_PUSH frames (0x05) with their positions, in arrival order. */
  readonly durable: Array<{ readonly position: number; readonly payload: Uint8Array }> = [];
  readonly controls: ControlFrame[] = [];
  /** `position` frames (end of a replay) and how many durable pushes had arrived before each. */
  readonly positionMarks: Array<{ readonly position: number; readonly durableBefore: number }> = [];
  readonly replies: Reply[] = [];
  /** Binary frames the client could not parse. */
  readonly unknown: Uint8Array[] = [];
  welcome: WelcomeLike | undefined;
  closed: Closed | undefined;
  refused: Refused | undefined;
  error: Error | undefined;
  /** The subprotocol the server selected. */
  protocol = '';
  private pushCursor = 0;
  private controlCursor = 0;
  private nextRequestId = 1;

  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const frame = JSON.parse(data.toString('utf8')) as ControlFrame;
        if (frame.type === 'welcome') this.welcome = frame as unknown as WelcomeLike;
        if (frame.type === 'position') this.positionMarks.push({ position: frame['position'] as number, durableBefore: this.durable.length });
        this.controls.push(frame);
        return;
      }
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      if (bytes[0] === OP_PUSH) this.pushes.push(bytes.subarray(1));
      else if (bytes[0] === OP_DURABLE_PUSH && bytes.length >= 9) {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        this.durable.push({ position: Number(view.getBigUint64(1)), payload: bytes.subarray(9) });
      }
      else if (bytes[0] === OP_REPLY && bytes.length >= 5) {
        const id = ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
        this.replies.push({ id, payload: bytes.subarray(5) });
      } else this.unknown.push(bytes);
    });
    ws.on('open', () => {
      this.protocol = ws.protocol;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString('utf8') };
    });
    ws.on('error', (err: Error) => {
      this.error = err;
    });
    // With this listener, ws leaves the refused request to us: read the body, then drop it.
    ws.on('unexpected-response', (req, res: IncomingMessage) => {
      let body = '';
      const done = () => {
        this.refused ??= { status: res.statusCode ?? 0, body, headers: res.headers };
        req.destroy();
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', done);
      res.on('error', done);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The next push not returned before (waits for it). */
  async nextPush(timeoutMs = 5000): Promise<Uint8Array> {
    await waitFor(() => this.pushes.length > this.pushCursor || this.closed, timeoutMs, 'a push');
    if (this.pushes.length <= this.pushCursor) throw new Error(`closed (${this.closed?.code} ${this.closed?.reason}) before a push arrived`);
    return this.pushes[this.pushCursor++]!;
  }

  /** The next control frame (optionally of a type) not returned before. */
  async nextControl(type?: string, timeoutMs = 5000): Promise<ControlFrame> {
    const find = () => {
      for (let i = this.controlCursor; i < this.controls.length; i++) {
        if (type === undefined || this.controls[i]!.type === type) return i + 1;
      }
      return undefined;
    };
    const at = await waitFor(() => find() ?? (this.closed ? -1 : undefined), timeoutMs, `a ${type ?? 'control'} frame`);
    if (at < 0) throw new Error(`closed (${this.closed?.code} ${this.closed?.reason}) before a ${type ?? 'control'} frame arrived`);
    this.controlCursor = at;
    return this.controls[at - 1]!;
  }

  async waitForClose(timeoutMs = 5000): Promise<Closed> {
    return waitFor(() => this.closed, timeoutMs, 'the connection to close');
  }

  sendMessage(topic: string, payload: Uint8Array | string): void {
    const t = Buffer.from(topic, 'ascii');
    const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const out = new Uint8Array(2 + t.length + p.length);
    out[0] = OP_MESSAGE;
    out[1] = t.length;
    out.set(t, 2);
    out.set(p, 2 + t.length);
    this.ws.send(out, { binary: true });
  }

  /** Sends a REQUEST and returns its id. */
  sendRequest(topic: string, payload: Uint8Array | string, id = this.nextRequestId++): number {
    const t = Buffer.from(topic, 'ascii');
    const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const out = new Uint8Array(6 + t.length + p.length);
    out[0] = OP_REQUEST;
    new DataView(out.buffer).setUint32(1, id);
    out[5] = t.length;
    out.set(t, 6);
    out.set(p, 6 + t.length);
    this.ws.send(out, { binary: true });
    return id;
  }

  /** REQUEST and wait for its REPLY payload, or the error frame answering it. */
  async request(topic: string, payload: Uint8Array | string, timeoutMs = 5000): Promise<{ reply: Uint8Array } | { error: ControlFrame }> {
    const id = this.sendRequest(topic, payload);
    return waitFor(
      () => {
        const reply = this.replies.find((r) => r.id === id);
        if (reply) return { reply: reply.payload };
        const error = this.controls.find((c) => c.type === 'error' && c['id'] === id);
        return error ? { error } : undefined;
      },
      timeoutMs,
      `the answer to request ${id}`,
    );
  }

  sendRefresh(token: string): void {
    this.ws.send(JSON.stringify({ type: 'refresh', token }));
  }

  sendRaw(data: Uint8Array | string, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  /** Closes from the client side and waits for the close to complete. */
  async close(code = 1000): Promise<void> {
    if (this.closed || this.refused) return;
    if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
      return;
    }
    this.ws.close(code);
    await this.waitForClose().catch(() => this.ws.terminate());
  }
}

/**
 * Connects and resolves once the outcome is known: welcome received (or `open` with
 * waitForWelcome false), the upgrade refused (see `refused`), or the socket closed. Never rejects
 * for a refusal: tests assert on it.
 */
export async function connectClient(options: ConnectOptions): Promise<MeshClient> {
  const url = new URL(options.url);
  if (options.client !== undefined) url.searchParams.set('client', options.client);
  if (options.resume !== undefined) {
    url.searchParams.set('position', String(options.resume.position));
    url.searchParams.set('epoch', options.resume.epoch);
  }
  const headers: Record<string, string> = { ...options.headers };
  const protocols: string[] = options.subprotocol === false ? [] : [SUBPROTOCOL];
  if (options.token !== undefined) {
    switch (options.via ?? 'header') {
      case 'header':
        headers['authorization'] = `Bearer ${options.token}`;
        break;
      case 'protocol':
        protocols.push(`bearer.${options.token}`);
        break;
      case 'query':
        url.searchParams.set(options.tokenQueryParam ?? 'token', options.token);
        break;
      case 'cookie':
        headers['cookie'] = `theme=dark; ${options.tokenCookie ?? 'mesh_token'}=${encodeURIComponent(options.token)}`;
        break;
    }
  }
  const ws = new WebSocket(url, protocols, { headers, ...(options.origin !== undefined ? { origin: options.origin } : {}) });
  const client = new MeshClient(ws);
  const waitWelcome = options.waitForWelcome ?? true;
  await waitFor(
    () => client.refused || client.closed || (waitWelcome ? client.welcome : client.isOpen) || (client.error && !client.isOpen && ws.readyState === WebSocket.CLOSED),
    options.timeoutMs ?? 5000,
    'the connection outcome',
  );
  return client;
}
