import type { HttpRequest } from 'uWebSockets.js';
import { refusal, type Refusal } from '../admission/admission.js';
import type { CapturedRequest } from '../admission/token-source.js';

/**
 * Copies what admission needs out of a uWS HttpRequest, which is only valid during the
 * synchronous part of the upgrade handler.
 */
export function capture(req: HttpRequest): CapturedRequest & HandshakeHeaders {
  return {
    url: req.getUrl(),
    query: req.getQuery() ?? '',
    origin: req.getHeader('origin'),
    authorization: req.getHeader('authorization'),
    protocols: req.getHeader('sec-websocket-protocol'),
    cookie: req.getHeader('cookie'),
    secWebSocketKey: req.getHeader('sec-websocket-key'),
    secWebSocketExtensions: req.getHeader('sec-websocket-extensions'),
    upgrade: req.getHeader('upgrade'),
    connection: req.getHeader('connection'),
    version: req.getHeader('sec-websocket-version'),
  };
}

export interface HandshakeHeaders {
  readonly secWebSocketKey: string;
  readonly upgrade: string;
  readonly connection: string;
  readonly version: string;
}

/** A Sec-WebSocket-Key is the base64 of 16 bytes: 22 characters and `==`. */
const KEY_RE = /^[A-Za-z0-9+/]{22}==$/;

/**
 * RFC 6455 section 4.2.1 checks that this uWS build skips: a request missing Upgrade, Connection
 * or version 13 must not get a 101. Version mismatches get 426 with the version we speak.
 */
export function handshakeProblem(h: HandshakeHeaders): Refusal | undefined {
  if (h.upgrade.trim().toLowerCase() !== 'websocket') return refusal(400, 'BAD_HANDSHAKE', 'Upgrade: websocket header required');
  if (!h.connection.toLowerCase().split(',').some((t) => t.trim() === 'upgrade')) {
    return refusal(400, 'BAD_HANDSHAKE', 'Connection: Upgrade header required');
  }
  if (h.version.trim() !== '13') return refusal(426, 'BAD_HANDSHAKE', 'Sec-WebSocket-Version must be 13');
  if (!KEY_RE.test(h.secWebSocketKey.trim())) return refusal(400, 'BAD_HANDSHAKE', 'Sec-WebSocket-Key must be the base64 of 16 bytes');
  return undefined;
}
