// k6/http: synchronous request/get/post/put/del/patch (they block this VU only, as in k6) and
// asyncRequest (a promise; keeps the iteration alive while in flight). Responses expose status,
// body (text), headers, timings.duration, error and json(). Status 400+ or a network error counts
// as http_req_failed, k6's default expected-status rule.
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { flushSamples, hold } from '../vu-runtime.mjs';
import { performRequest } from '../http-request.mjs';
import { builtin } from './builtin.mjs';

function buildRequest(method, url, body, params) {
  let payload = body ?? undefined;
  const headers = { ...(params?.headers ?? {}) };
  if (payload !== undefined && typeof payload === 'object' && !(payload instanceof ArrayBuffer) && !ArrayBuffer.isView(payload)) {
    payload = new URLSearchParams(Object.entries(payload).map(([k, v]) => /** @type {[string, string]} */ ([k, String(v)]))).toString();
    headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
  }
  if (payload instanceof ArrayBuffer) payload = new Uint8Array(payload);
  const timeoutMs = parseTimeout(params?.timeout);
  return { method: method.toUpperCase(), url: String(url), body: payload, headers, timeoutMs };
}

function parseTimeout(timeout) {
  if (timeout === undefined) return 60_000;
  if (typeof timeout === 'number') return timeout;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(timeout);
  if (!m) throw new Error(`invalid http timeout ${timeout}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function toResponse(raw, request) {
  builtin.httpReqs.add(1);
  builtin.httpReqDuration.add(raw.durationMs);
  builtin.httpReqFailed.add(raw.status === 0 || raw.status >= 400);
  return {
    status: raw.status,
    body: raw.body,
    headers: raw.headers,
    error: raw.error,
    error_code: raw.error ? 1000 : raw.status >= 400 ? 1000 + raw.status : 0,
    url: request.url,
    request: { method: request.method, url: request.url, headers: request.headers },
    timings: { duration: raw.durationMs },
    json(selector) {
      const value = JSON.parse(raw.body);
      return selector === undefined ? value : value?.[selector];
    },
  };
}

/** @type {{ port: import('node:worker_threads').MessagePort, flag: Int32Array } | undefined} */
let bridge;

function syncBridge() {
  if (bridge) return bridge;
  const { port1, port2 } = new MessageChannel();
  const shared = new SharedArrayBuffer(4);
  const helper = new Worker(new URL('../http-helper.mjs', import.meta.url), { workerData: { flag: shared, port: port2 }, transferList: [port2] });
  helper.unref();
  bridge = { port: port1, flag: new Int32Array(shared) };
  return bridge;
}

export function request(method, url, body, params) {
  const req = buildRequest(method, url, body, params);
  const { port, flag } = syncBridge();
  flushSamples();
  Atomics.store(flag, 0, 0);
  port.postMessage(req);
  Atomics.wait(flag, 0, 0, req.timeoutMs + 5_000);
  const answer = receiveMessageOnPort(port);
  if (!answer) return toResponse({ status: 0, body: '', headers: {}, durationMs: req.timeoutMs, error: 'request timeout' }, req);
  return toResponse(answer.message, req);
}

export async function asyncRequest(method, url, body, params) {
  const req = buildRequest(method, url, body, params);
  const release = hold();
  try {
    return toResponse(await performRequest(req), req);
  } finally {
    // Released after the caller's continuation ran (microtasks drain first), so work it starts in
    // reaction to the answer keeps the iteration alive.
    setImmediate(release);
  }
}

export const get = (url, params) => request('GET', url, null, params);
export const head = (url, params) => request('HEAD', url, null, params);
export const post = (url, body, params) => request('POST', url, body, params);
export const put = (url, body, params) => request('PUT', url, body, params);
export const patch = (url, body, params) => request('PATCH', url, body, params);
export const del = (url, body, params) => request('DELETE', url, body, params);

export default { request, asyncRequest, get, head, post, put, patch, del };
