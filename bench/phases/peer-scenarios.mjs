// The connect storm, targeted-push latency and broadcast scenarios for each peer of `npm run bench`
// (bench/lib/peers.mjs: Socket.IO + Redis adapter, Centrifugo with its memory or NATS broker), run by
// the same helpers and the same Go load generator as the edge's phases in bench/run.mjs, with the same
// socket counts and payloads; docs/benchmarks.md divides the edge's figures by these.
//
//   connect-<peer>    a storm of cfg.stormConns authenticated connects (256 in flight), after a warm-up storm
//   latency-<peer>    cfg.pushUsersPerEdge x 2 users; paced targeted pushes at the peer rates (fewer steps
//                     than the edge's, to keep the default run short), until a step saturates
//   broadcast-<peer>  cfg.broadcastSockets sockets; single broadcasts, then a burst (broadcastRuns)
// A peer that cannot run here (not built, no redis-server) throws with `unavailable`: run.mjs records
// it as NOT RUN with the reason, and the doc names it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../lib/services.mjs';

/** The phase names, in run order, for the given peer kinds. */
export function peerScenarioPhaseNames(kinds) {
  return kinds.flatMap((k) => [`connect-${k}`, `latency-${k}`, `broadcast-${k}`]);
}

/** Offered rates of the peers' latency ladder (BENCH_PEER_LATENCY_RATES): fewer steps than the edge's, same 20,000/s. */
export function peerLatencyRates(envValue) {
  return (envValue('BENCH_PEER_LATENCY_RATES') || '5000,20000,40000,80000').split(',').map((x) => {
    const v = Number(x.trim());
    if (!Number.isInteger(v) || v < 100 || v > 1000000) throw new Error(`BENCH_PEER_LATENCY_RATES: ${x} is not an integer in [100, 1000000]`);
    return v;
  });
}

/** Open file descriptors of a process (its sockets among them), read from /proc. */
function openFds(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * h: the orchestrator's helpers and state ({ cfg, startPeer, peerCtx, loadgenPeer, loadgenReady, storm,
 * latencyLadder, broadcastRuns, broadcastPublisher, lgCommand, readLoadAverage, peerRates }).
 * Returns { '<phase>': async (tmp) => result, ... } for the kinds given; each result goes to
 * results.connect / latency / broadcast under the peer's kind.
 */
export function peerScenarioPhases(kinds, h) {
  const { cfg } = h;

  /** Starts the peer, runs fn with it and its process names, stops it whatever happens. */
  async function withPeer(kind, tmp, fn) {
    const peer = await h.startPeer(kind, h.peerCtx(tmp));
    try {
      const serverPids = Object.fromEntries(peer.servers.map((s) => [s.name, s.pid]));
      return { label: peer.label, loadAverage: h.readLoadAverage(), ...(await fn(peer, serverPids, Object.keys(serverPids), Object.keys(peer.support))) };
    } finally {
      await peer.stop();
    }
  }
  const sum = (names, f) => names.reduce((a, k) => a + f(k), 0);

  const connect = (kind, tmp) =>
    withPeer(kind, tmp, async (peer, serverPids, servers, support) => {
      const n = cfg.stormConns;
      // Between rounds: every server process back to the file descriptors it had before (no socket left).
      const fds0 = servers.map((s) => openFds(serverPids[s]));
      const untilEmpty = () =>
        until(() => (servers.every((s, i) => openFds(serverPids[s]) <= fds0[i] + 8) ? true : undefined), {
          timeoutMs: 30000, intervalMs: 100, what: `${kind}: the storm's sockets closed on the server`,
        });
      const round = await h.storm(kind, { urls: peer.urls, n, raw: false, serverPids: { ...serverPids, ...peer.support }, extra: peer.loadgenArgs, untilEmpty });
      const us = sum(servers, (k) => round.cpu[k].usPerConnect);
      return {
        connects: n,
        inFlight: 256,
        auth: peer.auth,
        servers,
        ...round,
        serverUsPerConnect: us,
        serverUserUsPerConnect: sum(servers, (k) => round.cpu[k].userUsPerConnect),
        serverSystemUsPerConnect: sum(servers, (k) => round.cpu[k].systemUsPerConnect),
        supportUsPerConnect: Object.fromEntries(support.map((k) => [k, round.cpu[k].usPerConnect])),
        connectsPerSecondPerCore: 1e6 / us,
      };
    });

  const latency = (kind, tmp) =>
    withPeer(kind, tmp, async (peer, serverPids, servers, support) => {
      const users = cfg.pushUsersPerEdge * 2;
      const creditSocket = join(tmp, `credit-latency-${kind}.sock`);
      const lg = h.loadgenPeer(`loadgen-latency-${kind}`, peer, { n: users, reportMs: 20, creditSocket, stdin: true });
      const connect = await h.loadgenReady(lg, users, 120000);
      const startPublisher = (i, rate) =>
        peer.publisher({
          name: `publisher-latency-${kind}-${rate}`, users, size: cfg.payloadBytes, seconds: cfg.latencySeconds, rate,
          warmup: i === 0 ? cfg.warmupPushes : 0, window: cfg.window, creditSocket, seed: i + 1,
        });
      const pids = { ...serverPids, ...peer.support, loadgen: lg.pid };
      const { steps, quiet } = await h.latencyLadder(kind, { lg, startPublisher, pids, servers, support, rates: h.peerRates });
      await lg.stop();
      return { sockets: users, servers, secondsPerStep: cfg.latencySeconds, window: cfg.window, rates: h.peerRates, publisherKind: peer.publisherKind, connect, steps, quietBefore: quiet };
    });

  const broadcast = (kind, tmp) =>
    withPeer(kind, tmp, async (peer, serverPids, servers, support) => {
      const n = cfg.broadcastSockets;
      const lg = h.loadgenPeer(`loadgen-broadcast-${kind}`, peer, { n, reportMs: 20, stdin: true, extra: peer.broadcastLoadgenArgs });
      const connect = await h.loadgenReady(lg, n, 120000);
      let k = 0;
      const { publish, prepare } = h.broadcastPublisher((count, waitGo) =>
        peer.publisher({ name: `publisher-broadcast-${kind}-${++k}`, broadcast: true, users: 1, size: cfg.payloadBytes, seconds: 30, count, waitGo }),
      );
      const runs = await h.broadcastRuns(lg, n, publish, { ...serverPids, ...peer.support, loadgen: lg.pid }, prepare);
      const lgFinal = await h.lgCommand(lg, 'snap', 'snap');
      await lg.stop();
      const c = runs.burst.cpu;
      const delivered = runs.burst.delivered;
      return {
        ...runs,
        connect,
        servers,
        publisherKind: peer.broadcastPublisherKind,
        serverUsPerDelivery: sum(servers, (s) => c[s].cpuUs) / delivered,
        serverUserUsPerDelivery: sum(servers, (s) => c[s].userUsPerDelivery * delivered) / delivered,
        serverSystemUsPerDelivery: sum(servers, (s) => c[s].systemUsPerDelivery * delivered) / delivered,
        supportUsPerDelivery: Object.fromEntries(support.map((s) => [s, c[s].usPerDelivery])),
        openAtEnd: lgFinal.open,
      };
    });

  const phases = {};
  for (const kind of kinds) {
    phases[`connect-${kind}`] = (tmp) => connect(kind, tmp);
    phases[`latency-${kind}`] = (tmp) => latency(kind, tmp);
    phases[`broadcast-${kind}`] = (tmp) => broadcast(kind, tmp);
  }
  return phases;
}
