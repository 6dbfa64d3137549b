/**
 * WebSocket at the byte level, over raw TCP (node:net), for abuse tests and the edge fuzzer: every
 * header, frame bit, length encoding and write boundary is chosen by the test, and everything the
 * server answers (HTTP status and headers, frames, close code, TCP close) is recorded with the time
 * it arrived. Written out from RFC 6455 rather than taken from a WebSocket library, because a library
 * refuses to send most of what these tests need to send.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../../support/wait-for.js';

export const WsOpcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** Close code a client reports when the TCP connection ended without a close frame (RFC 6455 7.1.5). */
export const ABNORMAL_CLOSURE = 1006;

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Uint8Array;
  /** Default true. */
  readonly fin?: boolean;
  /** The three RSV bits as a number 0..7 (default 0). */
  readonly rsv?: number;
  /** Clients must mask (default true); false sends an unmasked frame, which servers must refuse. */
  readonly mask?: boolean;
  /** Force a length encoding: 7-bit, 16-bit or 64-bit (default: the shortest). */
  readonly lengthForm?: 7 | 16 | 64;
  /** Lie about the length (the declared length differs from the payload actually written). */
  readonly declaredLength?: number;
}

/** Encodes one client frame (masked unless told otherwise). */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = Buffer.from(spec.payload ?? new Uint8Array(0));
  const length = spec.declaredLength ?? payload.length;
  const form = spec.lengthForm ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const masked = spec.mask ?? true;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  if (form === 7) head.push(maskBit | (length & 0x7f));
  else if (form === 16) head.push(maskBit | 126, (length >>> 8) & 0xff, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(maskBit | 127, ...big);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), key, body]);
}

/** A close frame's payload: the code, then a UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code);
  out.write(reason, 2);
  return out;
}

export interface HttpAnswer {
  readonly status: number;
  readonly statusLine: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Milliseconds from connect to the end of the response head. */
  readonly atMs: number;
}

export interface ServerFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

export interface HandshakeOptions {
  readonly host: string;
  readonly path?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Headers to add; a value of null leaves out a header the default handshake would send. */
  readonly headers?: Readonly<Record<string, string | null>>;
}

/** A client upgrade request (RFC 6455 4.1) offering `session-mesh.v1`; every header can be bent. */
export function handshakeRequest(options: HandshakeOptions): string {
  const headers: Record<string, string | null> = {
    Host: options.host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Protocol': 'session-mesh.v1',
    ...(options.token !== undefined ? { Authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
  const lines = Object.entries(headers)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${options.path ?? '/'} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * One TCP connection to a server, recording what comes back. After a 101 the bytes that follow are
 * parsed as server frames; `closeCode` is the code of the server's close frame, or 1006 once the TCP
 * connection ended without one.
 */
export class RawConnection {
  http: HttpAnswer | undefined;
  /** Bytes after a non-101 response head (the body, read until the server closes or stops). */
  body = '';
  readonly frames: ServerFrame[] = [];
  /** The server's close frame (code, reason), when one arrived. */
  closeFrame: { code: number; reason: string } | undefined;
  /** Set when the TCP connection has ended (either side), with ms since connect. */
  endedAtMs: number | undefined;
  /** Socket error, if any (ECONNRESET is a normal way for a server to drop a connection). */
  error: Error | undefined;
  readonly startedAt = Date.now();
  private buffer = Buffer.alloc(0);
  private upgraded = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => (this.endedAtMs ??= Date.now() - this.startedAt));
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    const socket = net.connect({ port, host });
    const conn = new RawConnection(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return conn;
  }

  get ended(): boolean {
    return this.endedAtMs !== undefined;
  }

  /** The close code a WebSocket client would report: the close frame's, or 1006 without one. */
  get closeCode(): number | undefined {
    if (this.closeFrame) return this.closeFrame.code;
    return this.ended ? ABNORMAL_CLOSURE : undefined;
  }

  /** Text frames from the server, parsed as JSON where possible. */
  get controls(): Array<Record<string, unknown>> {
    return this.frames
      .filter((f) => f.opcode === WsOpcode.TEXT)
      .map((f) => {
        try {
          return JSON.parse(f.payload.toString('utf8')) as Record<string, unknown>;
        } catch {
          return { unparsable: f.payload.toString('utf8') };
        }
      });
  }

  write(data: string | Uint8Array): Promise<void> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(data, () => resolve());
    });
  }

  /** Writes `data` in pieces of `pieceBytes` with `pauseMs` between them (as a segmenting network would). */
  async writeInPieces(data: string | Uint8Array, pieceBytes: number, pauseMs: number): Promise<void> {
    const bytes = Buffer.from(data);
    for (let at = 0; at < bytes.length && !this.ended; at += pieceBytes) {
      await this.write(bytes.subarray(at, at + pieceBytes));
      if (at + pieceBytes < bytes.length) await delay(pauseMs);
    }
  }

  sendFrame(spec: FrameSpec): Promise<void> {
    return this.write(encodeFrame(spec));
  }

  /** Waits for the response head (101 or a refusal); undefined when the connection ended first or time ran out. */
  async answer(timeoutMs: number): Promise<HttpAnswer | undefined> {
    await waitFor(() => this.http !== undefined || this.ended, { timeoutMs, intervalMs: 5, what: 'an HTTP answer' }).catch(() => undefined);
    return this.http;
  }

  async waitForEnd(timeoutMs: number): Promise<number | undefined> {
    return waitFor(() => this.endedAtMs, { timeoutMs, intervalMs: 5, what: 'the connection to end' }).catch(() => undefined);
  }

  /** Waits until `predicate` holds, or the connection has ended, or time runs out; returns whether it holds. */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    await waitFor(() => predicate() || this.ended, { timeoutMs, intervalMs: 5, what: 'a server reaction' }).catch(() => undefined);
    return predicate();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** One-line summary of what the server did, for failure messages and reports. */
  describe(): string {
    const parts: string[] = [];
    if (this.http) parts.push(`answered "${this.http.statusLine}" after ${this.http.atMs} ms`);
    else parts.push('no HTTP answer');
    if (this.body) parts.push(`body ${JSON.stringify(this.body.slice(0, 120))}`);
    if (this.closeFrame) parts.push(`close frame ${this.closeFrame.code} ${JSON.stringify(this.closeFrame.reason)}`);
    if (this.ended) parts.push(`TCP closed after ${this.endedAtMs} ms${this.closeFrame ? '' : ' without a close frame (1006)'}`);
    else parts.push(`still open after ${Date.now() - this.startedAt} ms`);
    return parts.join(', ');
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.http === undefined) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const statusLine = lines[0] ?? '';
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.http = { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), statusLine, headers, atMs: Date.now() - this.startedAt };
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = this.http.status === 101;
    }
    if (!this.upgraded) {
      this.body += this.buffer.toString('utf8');
      this.buffer = Buffer.alloc(0);
      return;
    }
    this.parseFrames();
  }

  private parseFrames(): void {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if ((b[1]! & 0x80) !== 0) at += 4; // a server must not mask; tolerate it when parsing
      if (b.length < at + length) return;
      const frame: ServerFrame = { fin: (b[0]! & 0x80) !== 0, opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(at, at + length)) };
      this.buffer = b.subarray(at + length);
      this.frames.push(frame);
      if (frame.opcode === WsOpcode.CLOSE && this.closeFrame === undefined) {
        this.closeFrame =
          frame.payload.length >= 2
            ? { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') }
            : { code: 1005, reason: '' };
      }
    }
  }
}

/**
 * Opens a raw connection and completes an authenticated upgrade; waits for `welcome` (the edge
 * drops frames sent before it). Throws with what the server did when the upgrade fails.
 */
export async function openWelcomed(port: number, token: string, timeoutMs = 5000): Promise<RawConnection> {
  const conn = await RawConnection.open(port);
  await conn.write(handshakeRequest({ host: `127.0.0.1:${port}`, token }));
  const welcomed = await conn.until(() => conn.controls.some((c) => c['type'] === 'welcome'), timeoutMs);
  if (!welcomed) {
    conn.destroy();
    throw new Error(`authenticated upgrade did not reach welcome: ${conn.describe()}`);
  }
  return conn;
}
