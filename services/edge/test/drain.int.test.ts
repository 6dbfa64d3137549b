import WebSocket from 'ws';
import { afterAll, expect, it } from 'vitest';
import { mintToken } from '../../../test/support/tokens.js';
import { createTestBus } from './support/test-bus.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

const CLIENTS = 2000;
const SPREAD_MS = 3000;
const JITTER_MS = 500;
const BUCKET_MS = 250;

const edges: TestEdge[] = [];
afterAll(async () => {
  for (const e of edges) await e.stop().catch(() => undefined);
});

function open(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['session-mesh.v1'], { headers: { authorization: `Bearer ${token}` } });
    ws.once('error', reject);
    ws.on('message', (data, isBinary) => {
      if (!isBinary && (JSON.parse(data.toString()) as { type: string }).type === 'welcome') resolve(ws);
    });
  });
}

// Issue 10, graceful drain: a rolling restart must not hit the remaining edges with every client
// at once. Edge A drains (closes spread over SPREAD_MS, each with a jittered reconnect hint); the
// clients follow the hint and reconnect to edge B; B's reconnect rate stays bounded.
it('spreads the reconnects of a drained edge over the window, and every client comes back', async () => {
  const testBus = await createTestBus();
  const env = { MESH_DRAIN_DELAY_MS: '0', MESH_DRAIN_SPREAD_MS: String(SPREAD_MS), MESH_DRAIN_RECONNECT_JITTER_MS: String(JITTER_MS) };
  const a = await startTestEdge({ testBus, env });
  const b = await startTestEdge({ testBus, env });
  edges.push(b, a);
  const tokens = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => mintToken({ sub: `drain-${i}` })));
  for (let i = 0; i < CLIENTS; i += 200) await Promise.all(tokens.slice(i, i + 200).map((t) => open(a.url, t)).map((p) => p.then((ws) => follow(ws, i))));

  const reconnectedAt: number[] = [];
  const hints: number[] = [];
  const back: WebSocket[] = [];
  function follow(ws: WebSocket, _i: number): void {
    ws.once('close', (code, reason) => {
      if (code !== 4008) return;
      const hint = Number(/retry-after-ms=(\d+)/.exec(reason.toString())?.[1] ?? NaN);
      hints.push(hint);
      const token = tokens[hints.length - 1]!;
      setTimeout(() => {
        void open(b.url, token).then((again) => {
          reconnectedAt.push(Date.now());
          back.push(again);
        });
      }, hint);
    });
  }
  await waitFor(() => a.edge.stats().connections === CLIENTS || undefined, 20_000, 'every client on edge A');

  const started = Date.now();
  await a.edge.drain();
  await waitFor(() => back.length === CLIENTS || undefined, SPREAD_MS + JITTER_MS + 20_000, 'every client back on edge B');
  const buckets = new Array<number>(Math.ceil((Math.max(...reconnectedAt) - started) / BUCKET_MS) + 1).fill(0);
  for (const t of reconnectedAt) buckets[Math.floor((t - started) / BUCKET_MS)]!++;
  const peakPerS = (Math.max(...buckets) * 1000) / BUCKET_MS;
  const averagePerS = (CLIENTS * 1000) / SPREAD_MS;
  console.log(`drain: ${CLIENTS} clients, spread ${SPREAD_MS} ms, jitter ${JITTER_MS} ms; reconnects per ${BUCKET_MS} ms on edge B: ${buckets.join(' ')}; peak ${peakPerS}/s, average over the window ${averagePerS.toFixed(0)}/s`);
  expect(hints.every((h) => Number.isInteger(h) && h >= 0 && h <= JITTER_MS)).toBe(true);
  expect(new Set(hints).size).toBeGreaterThan(10);
  // Without the spread every client would be back within the jitter window (4x the average or more).
  expect(peakPerS).toBeLessThanOrEqual(2 * averagePerS);
  expect(b.edge.stats().connections).toBe(CLIENTS);
  for (const ws of back) ws.close();
}, 90_000);
