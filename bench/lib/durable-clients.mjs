// WebSocket clients (ws) that speak the durable part of the protocol: they keep (epoch, position)
// per tab as docs/protocol.md §6 asks, resume with ?client=&position=&epoch=, and record when the
// welcome and the `position` frame (end of the replay) arrive and every durable push they get.
// Used by bench/durable.mjs; one process holds thousands of them (about 20 KiB each).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '@session-mesh/testkit';
import { WebSocket } from 'ws';

export const OP_PUSH = 0x01;
export const OP_DURABLE_PUSH = 0x05;
/** Payload layout written by the publisher: [f64 published at (performance.now of this process)][u32 user index][u32 k], padded. */
export const PAYLOAD_HEADER_BYTES = 16;

export function encodePayload(bytes, userIndex, k, at = performance.now()) {
  const buf = Buffer.alloc(Math.max(bytes, PAYLOAD_HEADER_BYTES));
  buf.writeDoubleBE(at, 0);
  buf.writeUInt32BE(userIndex, 8);
  buf.writeUInt32BE(k, 12);
  return buf;
}

function decodePayload(buf, offset) {
  return { at: buf.readDoubleBE(offset), user: buf.readUInt32BE(offset + 8), k: buf.readUInt32BE(offset + 12) };
}

/** HS256 tokens for users u0..u<n-1> (session s<i>), valid for 6 hours. */
export async function mintTokens(n, secret) {
  const iat = Math.floor(Date.now() / 1000);
  const out = [];
  for (let i = 0; i < n; i++) out.push(await mintToken({ secret, sub: `u${i}`, jti: `s${i}`, iat, expiresInS: 6 * 3600 }));
  return out;
}

/**
 * One tab: user u<i>, session s<i>, client c<i>. `received` lists the durable pushes of the
 * current connection (position, k, during replay or not); `onPush(client, op, position, payload, now)`
 * sees every push as it arrives.
 */
export class DurableClient {
  constructor(index, token, onPush) {
    this.index = index;
    this.user = `u${index}`;
    this.token = token;
    this.onPush = onPush;
    this.epoch = undefined;
    this.position = undefined;
    this.ws = undefined;
    this.resetConnection();
  }

  resetConnection() {
    this.t0 = undefined;
    this.tWelcome = undefined;
    this.tPosition = undefined;
    this.welcome = undefined;
    this.replayEnd = undefined;
    this.received = [];
    /** Durable pushes at or below the stored position (a client ignores them; the edge should never send one). */
    this.duplicates = 0;
    this.attempts = 0;
    this.refusals = [];
    this.closed = undefined;
  }

  /**
   * Connects (resuming when `resume` and a stored position exist) and resolves at the welcome.
   * Refused or failed upgrades are retried (Retry-After when given, else 100-300 ms) until
   * deadlineMs after the first attempt; each refusal is recorded.
   */
  connect(url, { resume = false, deadlineMs = 120_000 } = {}) {
    this.resetConnection();
    this.t0 = performance.now();
    const deadline = this.t0 + deadlineMs;
    return new Promise((resolve, reject) => {
      const attempt = () => {
        this.attempts++;
        const q = new URLSearchParams({ client: `c${this.index}` });
        if (resume && this.epoch !== undefined && this.position !== undefined) {
          q.set('position', String(this.position));
          q.set('epoch', this.epoch);
        }
        const ws = new WebSocket(`${url}?${q}`, ['session-mesh.v1'], {
          headers: { Authorization: `Bearer ${this.token}` },
          perMessageDeflate: false,
          handshakeTimeout: Math.max(1000, deadline - performance.now()),
        });
        ws.binaryType = 'nodebuffer';
        let settled = false;
        const retry = (why, delayMs) => {
          if (settled) return;
          settled = true;
          this.refusals.push(why);
          ws.removeAllListeners();
          ws.on('error', () => {});
          ws.terminate();
          if (performance.now() + delayMs > deadline) {
            reject(new Error(`${this.user}: no welcome within ${deadlineMs} ms (${this.attempts} attempts; last: ${why})`));
            return;
          }
          setTimeout(attempt, delayMs);
        };
        ws.on('unexpected-response', (_req, res) => {
          const after = Number(res.headers['retry-after']);
          retry(`HTTP ${res.statusCode}`, Number.isFinite(after) && after > 0 ? after * 1000 : 100 + Math.random() * 200);
          res.resume();
        });
        ws.on('error', (err) => retry(err.code ?? err.message, 100 + Math.random() * 200));
        ws.on('close', (code) => {
          if (!settled) return retry(`closed ${code} before welcome`, 100 + Math.random() * 200);
          if (this.ws === ws) {
            this.ws = undefined;
            this.closed = { code, at: performance.now() };
            this.onClose?.(this);
          }
        });
        ws.on('message', (data, isBinary) => {
          const now = performance.now();
          if (isBinary) return this.binary(data, now);
          const msg = JSON.parse(String(data));
          if (msg.type === 'welcome') {
            settled = true;
            this.ws = ws;
            this.welcome = msg;
            this.tWelcome = now;
            // Where to start now, recovered or not (docs/protocol.md §6).
            this.epoch = msg.epoch;
            this.position = msg.position;
            resolve(msg);
          } else if (msg.type === 'position') {
            this.tPosition = now;
            this.replayEnd = msg.position;
            this.position = Math.max(this.position ?? 0, msg.position);
            this.onReplayEnd?.(this);
          }
        });
      };
      attempt();
    });
  }

  binary(buf, now) {
    const op = buf[0];
    if (op === OP_DURABLE_PUSH) {
      const position = Number(buf.readBigUInt64BE(1));
      const p = decodePayload(buf, 9);
      if (this.position !== undefined && position <= this.position) {
        this.duplicates++;
        return;
      }
      this.position = position;
      this.received.push({ position, k: p.k, user: p.user, replay: this.tPosition === undefined });
      this.onPush?.(this, op, position, p, now);
    } else if (op === OP_PUSH) {
      this.onPush?.(this, op, undefined, decodePayload(buf, 1), now);
    }
  }

  /** Cuts the socket without a close handshake (what a dead edge looks like). */
  terminate() {
    this.ws?.terminate();
  }

  close() {
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
    }
  }
}

/**
 * Connects every client to urls[i % urls.length], at most `concurrency` upgrades in flight (the
 * initial fill; the storm itself starts them all at once).
 */
export async function connectAll(clients, urls, { concurrency = 200, resume = false } = {}) {
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const i = next++;
      await clients[i].connect(urls[i % urls.length], { resume });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
}

/** Resolves when pred() holds, checked every intervalMs; rejects after timeoutMs naming `what` and describe(). */
export async function waitUntil(pred, { timeoutMs, what, intervalMs = 20, describe = () => '' }) {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe() ? `: ${describe()}` : ''}`);
    await sleep(intervalMs);
  }
}

/** p50/p90/p99/max of a list of numbers (nearest rank), rounded to 0.1. */
export function percentiles(values) {
  if (values.length === 0) return { n: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const r = (v) => Math.round(v * 10) / 10;
  return { n: s.length, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(s[s.length - 1]), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}
