// k6/websockets on the `ws` package: the WHATWG-style WebSocket that k6 exposes (on* handlers and
// addEventListener; events open, message, error, close, ping, pong), with k6's own behaviour where it
// differs from browsers: request headers in the third argument, a `Sec-WebSocket-Protocol` header
// offers subprotocols, a close with a code other than 1000/1001 fires `error` before `close`, and the
// close event carries `code` and `reason`. An open socket keeps the iteration alive until it closes.
import NodeWebSocket from 'ws';
import { hold, invokeCallback } from '../vu-runtime.mjs';
import { builtin } from './builtin.mjs';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const eventNames = ['open', 'message', 'error', 'close', 'ping', 'pong'];

export class WebSocket {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;
  CONNECTING = CONNECTING;
  OPEN = OPEN;
  CLOSING = CLOSING;
  CLOSED = CLOSED;

  /** @param {string} url @param {string | string[] | null} [protocols] @param {{ headers?: Record<string, string>, compression?: string } | null} [params] */
  constructor(url, protocols, params) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new Error(`WebSocket requires url with scheme ws or wss, but got "${parsed.protocol}"`);
    this.url = url;
    this.readyState = CONNECTING;
    this.binaryType = 'blob';
    this.bufferedAmount = 0;
    this.protocol = '';
    /** @type {Record<string, Array<(event: object) => void>>} */
    this._listeners = Object.fromEntries(eventNames.map((n) => [n, []]));
    for (const n of eventNames) this[`on${n}`] = null;
    this._closeCode = 0;
    this._closeReason = '';
    this._started = Date.now();

    const headers = { ...(params?.headers ?? {}) };
    const offered = [];
    if (typeof protocols === 'string') offered.push(protocols);
    if (Array.isArray(protocols)) offered.push(...protocols);
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === 'sec-websocket-protocol') {
        offered.push(...String(headers[key]).split(',').map((p) => p.trim()).filter(Boolean));
        delete headers[key];
      }
    }
    this._release = hold(() => this._socket.terminate());
    this._socket = new NodeWebSocket(url, offered, { headers, perMessageDeflate: params?.compression === 'deflate', handshakeTimeout: 60_000 });
    this._socket.binaryType = 'nodebuffer';
    builtin.wsSessions.add(1);

    this._socket.on('unexpected-response', (_req, res) => {
      this._handshakeFailed(new Error(`websocket: bad handshake (HTTP ${res.statusCode})`));
      res.resume();
      this._socket.terminate();
    });
    this._socket.on('open', () => {
      builtin.wsConnecting.add(Date.now() - this._started);
      this.readyState = OPEN;
      this.protocol = this._socket.protocol;
      this._dispatch('open', {});
    });
    this._socket.on('message', (/** @type {Buffer} */ data, isBinary) => {
      if (this.readyState !== OPEN) return;
      builtin.wsMsgsReceived.add(1);
      let payload;
      if (isBinary) {
        if (this.binaryType !== 'arraybuffer') {
          this._dispatchError(new Error("k6 stand-in: binary messages need ws.binaryType = 'arraybuffer' (Blob is not implemented)"));
          return;
        }
        payload = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      } else {
        payload = data.toString('utf8');
      }
      this._dispatch('message', { data: payload, origin: this.url });
    });
    this._socket.on('ping', () => this._dispatch('ping', {}));
    this._socket.on('pong', () => this._dispatch('pong', {}));
    this._socket.on('error', (err) => {
      if (this.readyState === CONNECTING) this._handshakeFailed(err);
      else this._lastError = err;
    });
    this._socket.on('close', (code, reason) => this._closed(code, reason.toString('utf8')));
  }

  _handshakeFailed(err) {
    if (this._handshakeError) return;
    this._handshakeError = err;
    builtin.wsConnecting.add(Date.now() - this._started);
  }

  _closed(code, reason) {
    if (this.readyState === CLOSED) return;
    const byUs = this.readyState === CLOSING;
    this.readyState = CLOSED;
    if (this._handshakeError) {
      this._dispatchError(this._handshakeError);
    } else {
      builtin.wsSessionDuration.add(Date.now() - this._started);
      if (!byUs && code !== 1000 && code !== 1001) {
        this._dispatchError(this._lastError ?? new Error(`websocket: close ${code}: ${reason}`));
      }
    }
    // As in k6: the close event carries the code the connection ended with (also 1005 and 1006),
    // except when the handshake failed.
    if (!this._handshakeError) {
      this._closeCode ||= code;
      this._closeReason ||= reason;
    }
    const event = { reason: this._closeReason };
    if (this._closeCode !== 0) event.code = this._closeCode;
    this._dispatch('close', event);
    this._release();
  }

  _dispatchError(err) {
    this._dispatch('error', { error: err.message });
  }

  _dispatch(type, fields) {
    const event = { type, target: this, timestamp: Date.now(), ...fields };
    const handlers = [...this._listeners[type]];
    const on = this[`on${type}`];
    if (typeof on === 'function') handlers.push(on);
    for (const handler of handlers) invokeCallback(handler, event);
  }

  addEventListener(type, listener) {
    if (typeof listener !== 'function') throw new Error(`handler for event type "${type}" isn't a callable function`);
    if (!this._listeners[type]) throw new Error(`unknown WebSocket event type ${type}`);
    this._listeners[type].push(listener);
  }

  send(data) {
    if (this.readyState !== OPEN) throw new Error('InvalidStateError');
    let payload;
    if (typeof data === 'string') payload = data;
    else if (data instanceof ArrayBuffer) payload = Buffer.from(data);
    else if (ArrayBuffer.isView(data)) payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else throw new Error(`unsupported send type ${typeof data}`);
    builtin.wsMsgsSent.add(1);
    this._socket.send(payload, { binary: typeof data !== 'string' });
  }

  ping() {
    if (this.readyState !== OPEN) throw new Error('InvalidStateError');
    this._socket.ping();
  }

  close(code, reason) {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new Error(`InvalidAccessError: The close code must be either 1000, or between 3000 and 4999. ${code} is neither`);
    }
    if (reason !== undefined && Buffer.byteLength(reason) > 123) throw new Error('SyntaxError: The message must not be greater than 123 bytes');
    const wasConnecting = this.readyState === CONNECTING;
    this.readyState = CLOSING;
    this._closeCode = code ?? 1000;
    this._closeReason = reason ?? '';
    if (wasConnecting) this._socket.terminate();
    else this._socket.close(this._closeCode, this._closeReason);
  }
}

export class Blob {
  constructor() {
    throw new Error('k6 stand-in: Blob is not implemented; use binaryType = "arraybuffer"');
  }
}

export default { WebSocket, Blob };
