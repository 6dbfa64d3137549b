/**
 * bench/render.mjs puts the peers into the connect-storm, latency and broadcast tables of
 * docs/benchmarks.md with the ratio edge / peer, and names a peer that could not run (NOT RUN, with
 * the reason) instead of failing. A small hand-made results object, no bench run: the figures are
 * chosen so that every ratio is a round number.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

type RenderScenarios = (r: unknown) => string[];
const renderUrl = pathToFileURL(join(import.meta.dirname, '../../bench/render.mjs')).href;
const { renderScenarios } = (await import(renderUrl)) as { renderScenarios: RenderScenarios };

const cpu = (us: number) => ({ usPerConnect: us, userUsPerConnect: us / 2, systemUsPerConnect: us / 2 });
const time = (p50: number, p99: number) => ({ p50, p99, p999: p99, max: p99 });
const burstCpu = (names: string[], usEach: number, delivered: number) =>
  Object.fromEntries(names.map((n) => [n, { cpuUs: usEach * delivered, usPerDelivery: usEach, userUsPerDelivery: usEach / 2, systemUsPerDelivery: usEach / 2 }]));
const broadcast = (perSecond: number, lastMs: number, servers: string[], usEach: number) => ({
  sockets: 1000,
  single: { runs: [{ delivered: 1000, complete: true, latencyMs: time(lastMs / 2, lastMs) }], lastSocketMsMedian: lastMs, lastSocketMsMax: lastMs },
  burst: { publishes: 10, expected: 10000, delivered: 10000, complete: true, seconds: 10000 / perSecond, deliveriesPerSecond: perSecond, cpu: burstCpu([...servers, 'loadgen'], usEach, 10000) },
  openAtEnd: 1000,
});
const unavailable = (phase: string) => ({ phase, error: 'Centrifugo not built: go install failed (fixture)', unavailable: true });

const results = {
  config: { payloadBytes: 100, phases: ['connect-edge', 'latency-edge', 'broadcast-edge', 'connect-socketio', 'latency-socketio', 'broadcast-socketio'] },
  push: { edge: { edgeUsPerDelivery: 5 }, socketio: { serverUsPerDelivery: 20 } },
  connect: {
    edge: { connects: 1000, hs256: { connects: 1000, connectsPerSecond: 4000, cpu: { edge: cpu(100), nats: cpu(10) }, connectTime: time(10, 40), loadgenCpuUs: 1000 } },
    socketio: {
      label: 'Socket.IO fixture', connects: 1000, servers: ['socketio-a', 'socketio-b'], connectsPerSecond: 1000, connectTime: time(40, 160),
      serverUsPerConnect: 200, serverUserUsPerConnect: 100, serverSystemUsPerConnect: 100, supportUsPerConnect: { redis: 1 },
      cpu: { 'socketio-a': cpu(100), 'socketio-b': cpu(100), redis: cpu(1) },
    },
  },
  latency: {
    edge: { sockets: 1000, secondsPerStep: 1, steps: [{ offeredPerSecond: 20000, deliveriesPerSecond: 20000, latencyMs: time(1, 2), edgeUsPerDelivery: 10, edgeUserUsPerDelivery: 5, edgeSystemUsPerDelivery: 5, natsUsPerDelivery: 1, edgeCoresBusy: 0.2 }] },
    socketio: {
      label: 'Socket.IO fixture', sockets: 1000, rates: [20000],
      steps: [{ offeredPerSecond: 20000, deliveriesPerSecond: 20000, latencyMs: time(4, 8), serverUsPerDelivery: 40, serverUserUsPerDelivery: 20, serverSystemUsPerDelivery: 20, supportUsPerDelivery: { redis: 2 }, serverCoresBusy: 0.8 }],
    },
  },
  broadcast: {
    edge: broadcast(200000, 50, ['edgeA', 'edgeB'], 2),
    socketio: { ...broadcast(100000, 200, ['socketio-a', 'socketio-b'], 4), label: 'Socket.IO fixture', servers: ['socketio-a', 'socketio-b'], supportUsPerDelivery: { redis: 0.01 }, publisherKind: 'fixture' },
  },
  errors: ['connect', 'latency', 'broadcast'].map((s) => unavailable(`${s}-centrifugo-memory`)),
};

const doc = renderScenarios(results).join('\n');
const section = (title: string) => doc.slice(doc.indexOf(title), doc.indexOf('### ', doc.indexOf(title) + 4) >>> 0);
const rowOf = (text: string, label: string) => text.split('\n').find((l) => l.startsWith(`| ${label}`)) ?? '';

describe('render.mjs: peers in the scenario tables', () => {
  it('gives each peer its row with the ratio edge / peer', () => {
    // Connect storm: edge HS256 100 µs / Socket.IO 200 µs (both processes) per connect.
    expect(rowOf(section('### Connect storm'), 'Socket.IO fixture, HS256')).toContain('**0.50×**');
    expect(section('### Connect storm')).toContain('Socket.IO: CPU per connect 0.50×, connects/s (wall) 4.00×, upgrade-to-welcome p50 0.25×, p99 0.25×');
    // Latency at 20,000/s: edge p99 2 ms / 8 ms, CPU 10 µs / 40 µs.
    expect(rowOf(section('### Targeted-push latency'), 'Socket.IO fixture')).toContain('| 0.25×, 0.25× |');
    // Broadcast: deliveries/s 200k / 100k, last socket 50 / 200 ms, CPU 4 / 8 µs per delivery.
    expect(rowOf(section('### Broadcast'), 'Socket.IO fixture')).toContain('| 2.00×, 0.25×, 0.50× |');
  });

  it('names a peer that could not run, with the reason, in every scenario table', () => {
    for (const title of ['### Connect storm', '### Targeted-push latency', '### Broadcast']) {
      const row = rowOf(section(title), 'Centrifugo v6.9.1, memory broker');
      expect(row, title).toContain('NOT RUN: Centrifugo not built: go install failed (fixture)');
      expect(rowOf(section(title), 'Centrifugo v6.9.1, NATS broker'), title).toContain('not measured: phase not selected in this run');
    }
  });
});
