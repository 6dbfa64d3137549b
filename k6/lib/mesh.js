// @ts-check
// Shared plumbing of the Session Mesh k6 scripts: configuration from environment variables, tokens
// (minted with HS256 or fetched from your token endpoint), the session-mesh.v1 wire protocol
// (docs/protocol.md), publishing through the admin API, and the metrics every script reports.
import { WebSocket } from 'k6/websockets';
import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { Counter, Rate, Trend } from 'k6/metrics';

export const SUBPROTOCOL = 'session-mesh.v1';
export const OP_PUSH = 0x01;

// ---------------------------------------------------------------------------------------------
// Configuration (every variable is documented in k6/README.md)

/** @param {string} name @param {string} fallback */
export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** @param {string} name @param {number} fallback */
export function envInt(name, fallback) {
  const raw = env(name, String(fallback));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

/**
 * A k6 duration ('500ms', '30s', '1m30s', '2h') in milliseconds, so scripts can time their own work
 * from the same DURATION the options use.
 * @param {string} name @param {string} fallback
 */
export function envDurationMs(name, fallback) {
  const raw = env(name, fallback);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(raw)) throw new Error(`${name} must be a duration like 30s or 1m30s, got ${raw}`);
  /** @type {Record<string, number>} */
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) ms += Number(m[1]) * (unit[m[2] ?? 's'] ?? 0);
  return ms;
}

/** `ms` as a k6 duration string, for options computed from several variables. @param {number} ms */
export function durationString(ms) {
  return `${Math.ceil(ms)}ms`;
}

export const config = {
  /** One URL, or several separated by commas (e.g. one per edge when there is no load balancer). */
  wsUrls: env('MESH_WS_URL', 'ws://127.0.0.1:8080').split(',').map((u) => u.trim()).filter(Boolean),
  jwtSecret: env('MESH_JWT_SECRET', ''),
  tokenUrl: env('MESH_TOKEN_URL', ''),
  tokenUrlAuth: env('MESH_TOKEN_URL_AUTH', ''),
  tokenTtlS: envInt('MESH_TOKEN_TTL_S', 3600),
  adminUrl: env('MESH_ADMIN_URL', 'http://127.0.0.1:8081').replace(/\/+$/, ''),
  adminToken: env('MESH_ADMIN_TOKEN', ''),
};

if (!config.jwtSecret && !config.tokenUrl) {
  throw new Error('set MESH_JWT_SECRET (the scripts mint HS256 tokens) or MESH_TOKEN_URL (they fetch tokens from it)');
}

/** Scripts that publish call this in their init code, so a missing admin token fails before the test starts. */
export function requireAdmin() {
  if (!config.adminToken) throw new Error('set MESH_ADMIN_TOKEN (and MESH_ADMIN_URL): this script publishes through the admin API');
}

/**
 * The run id prefixes every user and session id of a run, so its pushes and presence checks never
 * mix with real users or another run. Set RUN_ID when several k6 instances form one run (k6-operator).
 */
export function newRunId() {
  return env('RUN_ID', `k6-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`);
}

/**
 * The user id of a VU's `index`-th session. exec.vu.idInTest is unique across all k6 instances of a
 * distributed run, so ids stay unique there too (with one RUN_ID).
 * @param {string} runId @param {string} role @param {number} vu @param {number} index
 */
export function userId(runId, role, vu, index) {
  return `${runId}-${role}-${vu}-${index}`;
}

// ---------------------------------------------------------------------------------------------
// Tokens

/**
 * An HS256 JWT as the edge expects it: `sub` is the user id, `jti` the session id.
 * @param {string} secret @param {Record<string, unknown>} claims
 */
export function mintHs256(secret, claims) {
  const header = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const payload = encoding.b64encode(JSON.stringify(claims), 'rawurl');
  const signature = crypto.hmac('sha256', secret, `${header}.${payload}`, 'binary');
  return `${header}.${payload}.${encoding.b64encode(signature, 'rawurl')}`;
}

/**
 * A token for `user` and `session`: minted when MESH_JWT_SECRET is set, otherwise fetched with
 * GET MESH_TOKEN_URL?user=<user>&session=<session> (answer: the token as text, or JSON {"token": ...}).
 * @param {string} user @param {string} session
 * @returns {Promise<string>}
 */
export async function tokenFor(user, session) {
  if (config.jwtSecret) {
    const now = Math.floor(Date.now() / 1000);
    return mintHs256(config.jwtSecret, { sub: user, jti: session, iat: now, exp: now + config.tokenTtlS });
  }
  const url = `${config.tokenUrl}${config.tokenUrl.includes('?') ? '&' : '?'}user=${encodeURIComponent(user)}&session=${encodeURIComponent(session)}`;
  /** @type {Record<string, string>} */
  const headers = config.tokenUrlAuth ? { Authorization: config.tokenUrlAuth } : {};
  const res = await http.asyncRequest('GET', url, null, { headers, tags: { name: 'token' } });
  if (res.status !== 200 || typeof res.body !== 'string') throw new Error(`token endpoint answered ${res.status} ${res.error}`);
  const body = res.body.trim();
  return body.startsWith('{') ? String(JSON.parse(body).token) : body;
}

// ---------------------------------------------------------------------------------------------
// Metrics every script reports (thresholds in each script)

export const metrics = {
  /** Time from opening the socket to the `welcome` frame: upgrade, token check, subscriptions. */
  welcomeTime: new Trend('mesh_welcome_time', true),
  /** One sample per connection attempt: true when it closed or failed before `welcome`. */
  connectFailed: new Rate('mesh_connect_failed'),
  /** Connections the server closed after `welcome` while the script still held them. */
  unexpectedClose: new Counter('mesh_unexpected_close'),
  pushSent: new Counter('push_sent'),
  pushDelivered: new Counter('push_delivered'),
  pushLost: new Counter('push_lost'),
  /** One sample per push: true when it never arrived (within the drain time after the last push). */
  pushLoss: new Rate('push_loss'),
  /** Receipt time minus the send time the publisher wrote into the payload. */
  pushLatency: new Trend('push_latency', true),
  /** One sample per admin API call: true when it did not answer 202. */
  publishFailed: new Rate('publish_failed'),
};

/**
 * Thresholds every script shares: connects, unexpected closes, checks, and (for scripts that
 * publish) failed admin API calls. Each bound can be overridden by the variable named beside it.
 * @param {{ publishes: boolean }} o
 * @returns {Record<string, string[]>}
 */
export function commonThresholds({ publishes }) {
  return {
    mesh_connect_failed: [`rate<${env('MAX_CONNECT_FAILED_RATE', '0.01')}`],
    mesh_unexpected_close: [`count<=${env('MAX_UNEXPECTED_CLOSES', '0')}`],
    checks: ['rate>0.99'],
    ...(publishes ? { publish_failed: [`rate<${env('MAX_PUBLISH_FAILED_RATE', '0.01')}`] } : {}),
  };
}

/** mesh_welcome_time p95/p99 (WELCOME_P95_MS, WELCOME_P99_MS). @returns {Record<string, string[]>} */
export function welcomeThresholds() {
  return { mesh_welcome_time: [`p(95)<${env('WELCOME_P95_MS', '500')}`, `p(99)<${env('WELCOME_P99_MS', '1000')}`] };
}

// ---------------------------------------------------------------------------------------------
// The wire protocol

/** @typedef {{ type: 'welcome', user: string, session: string, client: string, conn: string, edge: string, expiresAt: number | null, [key: string]: unknown }} Welcome */

/**
 * @typedef {object} SessionHandlers
 * @property {(welcome: Welcome) => void} [onWelcome]
 * @property {(payload: ArrayBuffer, receivedAt: number) => void} [onPush] payload bytes after the opcode
 * @property {(frame: Record<string, unknown>) => void} [onControl] control frames other than welcome
 * @property {(frame: ArrayBuffer, receivedAt: number) => void} [onBinary] binary frames other than PUSH, opcode included
 * @property {(code: number | undefined, reason: string) => void} [onClose]
 */

/**
 * @typedef {object} MeshSession
 * @property {WebSocket} ws
 * @property {() => boolean} welcomed
 * @property {(code?: number) => void} close closes on purpose (not counted as unexpected)
 */

/** The edge URL for the `n`-th connection (round robin over MESH_WS_URL). @param {number} n */
export function edgeUrl(n) {
  return config.wsUrls[n % config.wsUrls.length] ?? 'ws://127.0.0.1:8080';
}

/**
 * Opens one session with the token in the Authorization header and the subprotocol offered in
 * Sec-WebSocket-Protocol (k6/websockets accepts both as request headers). Records the welcome time,
 * failed connects and unexpected closes.
 * @param {{ token: string, edge: number, client?: string, query?: Record<string, string>, handlers?: SessionHandlers }} options
 * @returns {MeshSession}
 */
export function openSession({ token, edge, client, query, handlers = {} }) {
  /** @type {Record<string, string>} */
  const params = { ...(client ? { client } : {}), ...(query ?? {}) };
  const search = Object.keys(params).map((k) => `${k}=${encodeURIComponent(params[k] ?? '')}`).join('&');
  const base = edgeUrl(edge);
  const url = search ? `${base}${base.includes('?') ? '&' : '?'}${search}` : base;
  const started = Date.now();
  let welcomed = false;
  let closingOnPurpose = false;
  const ws = new WebSocket(url, null, { headers: { Authorization: `Bearer ${token}`, 'Sec-WebSocket-Protocol': SUBPROTOCOL } });
  ws.binaryType = 'arraybuffer';

  ws.addEventListener('message', (event) => {
    const data = /** @type {{ data: string | ArrayBuffer }} */ (event).data;
    if (typeof data === 'string') {
      const frame = JSON.parse(data);
      if (frame.type === 'welcome' && !welcomed) {
        welcomed = true;
        metrics.welcomeTime.add(Date.now() - started);
        metrics.connectFailed.add(false);
        handlers.onWelcome?.(/** @type {Welcome} */ (frame));
      } else {
        handlers.onControl?.(frame);
      }
      return;
    }
    if (typeof data !== 'object') return;
    const bytes = new Uint8Array(data);
    if (bytes[0] === OP_PUSH) handlers.onPush?.(data.slice(1), Date.now());
    else handlers.onBinary?.(data, Date.now());
  });
  let lastError = '';
  // An error is always followed by a close event, which counts it; keep its text for the log line.
  ws.addEventListener('error', (event) => {
    lastError = String(/** @type {{ error?: string }} */ (event).error ?? '');
  });
  ws.addEventListener('close', (event) => {
    const { code, reason } = /** @type {{ code?: number, reason?: string }} */ (/** @type {unknown} */ (event));
    if (!welcomed) {
      metrics.connectFailed.add(true);
      warnSometimes(`connect to ${base} failed before welcome: ${lastError || `close ${code ?? '-'} ${reason ?? ''}`}`);
    } else if (!closingOnPurpose) {
      metrics.unexpectedClose.add(1);
      warnSometimes(`the server closed a session: ${code ?? '-'} ${reason ?? ''}`);
    }
    handlers.onClose?.(code, reason ?? '');
  });

  return {
    ws,
    welcomed: () => welcomed,
    close(code) {
      closingOnPurpose = true;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code ?? 1000);
    },
  };
}

// A few lines per VU say why connections failed; more would flood the log when an edge dies.
let warningsLeft = 3;
/** @param {string} line */
function warnSometimes(line) {
  if (warningsLeft <= 0) return;
  warningsLeft -= 1;
  console.warn(warningsLeft === 0 ? `${line} (further failures of this VU are only counted)` : line);
}

/** Payload bytes as a string (the scripts' own payloads are ASCII JSON). @param {ArrayBuffer} buffer */
export function asciiText(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) text += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 4096)));
  return text;
}

// ---------------------------------------------------------------------------------------------
// Publishing through the admin API (services/admin/openapi.json)

/** @param {string} path @param {string} body @param {number} [expectedStatus] 202 for at-most-once pushes, 201 for durable ones */
export async function adminPost(path, body, expectedStatus = 202) {
  const res = await http.asyncRequest('POST', `${config.adminUrl}${path}`, body, {
    headers: { Authorization: `Bearer ${config.adminToken}`, 'Content-Type': 'application/json' },
    tags: { name: path.startsWith('/v1/users/') ? '/v1/users/{userId}/push' : path },
  });
  metrics.publishFailed.add(res.status !== expectedStatus);
  return res;
}

/** POST /v1/users/{userId}/push?sessionId=..., the body published unchanged. @param {string} user @param {string} session @param {string} body */
export function pushToSession(user, session, body) {
  return adminPost(`/v1/users/${encodeURIComponent(user)}/push?sessionId=${encodeURIComponent(session)}`, body);
}

/** GET /v1/users/{userId}/connections: how many connections the registry holds for `user` (synchronous; for teardown). @param {string} user */
export function connectionCount(user) {
  const res = http.get(`${config.adminUrl}/v1/users/${encodeURIComponent(user)}/connections`, {
    headers: { Authorization: `Bearer ${config.adminToken}` },
    tags: { name: '/v1/users/{userId}/connections' },
  });
  if (res.status !== 200 || typeof res.body !== 'string') throw new Error(`GET connections of ${user}: ${res.status} ${res.error}`);
  return JSON.parse(res.body).connections.length;
}

// ---------------------------------------------------------------------------------------------
// Timestamped pushes: the publisher writes its send time into the payload, the receiver adds
// receipt minus send time to push_latency. Publisher and receiver are the same VU here, so one
// clock measures both ends (Date.now(), millisecond resolution).

/**
 * The stamp a script's own payload carries, or undefined for anything else (a real application's
 * pushes, or bytes that are not JSON).
 * @param {ArrayBuffer} payload
 * @returns {{ run: string, seq: number, sentAt: number } | undefined}
 */
export function parseStamp(payload) {
  try {
    const msg = JSON.parse(asciiText(payload));
    return typeof msg === 'object' && msg !== null && typeof msg.run === 'string' && typeof msg.seq === 'number' && typeof msg.sentAt === 'number' ? msg : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tracks pushes in flight for one VU: sent ones wait for their receipt; what is still in flight
 * after the drain time counts as lost.
 * @param {string} runId
 */
export function createPushTracker(runId) {
  /** @type {Map<number, number>} seq -> sent at */
  const inFlight = new Map();
  let seq = 0;
  return {
    /** The payload of the next push, registered as in flight. */
    next() {
      seq += 1;
      const sentAt = Date.now();
      inFlight.set(seq, sentAt);
      return { seq, body: JSON.stringify({ run: runId, seq, sentAt }) };
    },
    /** The admin API answered the publish of `s`: 202 counts it as sent, anything else drops it. @param {number} s @param {number} status */
    published(s, status) {
      if (status === 202) metrics.pushSent.add(1);
      else inFlight.delete(s);
    },
    /** A PUSH frame arrived. Returns false for payloads that are not this tracker's (another run). @param {ArrayBuffer} payload @param {number} receivedAt */
    received(payload, receivedAt) {
      const msg = parseStamp(payload);
      if (msg === undefined || msg.run !== runId) return false;
      const sentAt = inFlight.get(msg.seq);
      if (sentAt === undefined) return true;
      inFlight.delete(msg.seq);
      metrics.pushLatency.add(receivedAt - sentAt);
      metrics.pushDelivered.add(1);
      metrics.pushLoss.add(false);
      return true;
    },
    inFlight: () => inFlight.size,
    /** Counts what is still in flight as lost (always adds a sample, so the count is printed even when 0). */
    finish() {
      for (let i = 0; i < inFlight.size; i++) metrics.pushLoss.add(true);
      metrics.pushLost.add(inFlight.size);
      inFlight.clear();
    },
  };
}
