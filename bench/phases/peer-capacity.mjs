// Capacity and kill propagation for each peer of `npm run bench` (issue 12, scenarios 1 and 5), so
// docs/benchmarks.md can give the edge's figures of phases `capacity` and `propagation` as ratios.
// One phase per peer, `capacity-<peer>`, holds the population once and measures both:
//
//   1. capacity: cfg.capacityConns sessions (one socket and one user each) spread over as many server
//      processes as the edges get (the peer's real way to scale: Socket.IO processes on one Redis
//      adapter, Centrifugo nodes on one NATS broker), one load generator per process; RSS per
//      connection of every server process after forced full GCs, and of its bus/store (redis-server,
//      nats-server, read as it is), and the wall time to connect them all. Centrifugo's memory broker
//      does not connect nodes, so it is one node: it holds what one process can under the 20,000
//      open-files limit (PEER_SOCKETS_PER_PROCESS), and the result says so.
//   2. kill propagation, with that population connected: target users get more sockets on the next
//      servers (as many sockets per session as the edge's propagation phase), then the peer's own
//      "disconnect this user now" call (peer.kill: Centrifugo's server API disconnect, Socket.IO's
//      emitter disconnectSockets) is timed like the edge's admin kill (bench/lib/propagation-timing.mjs),
//      cfg.propagationKills calls at cfg.propagationRate per second. The blacklist has no counterpart.
// A peer that cannot run here throws with `unavailable` (bench/lib/peers.mjs): run.mjs records NOT RUN.
import { peerMaxNodes } from '../lib/peers.mjs';
import { closeReasons, propagationTimer } from '../lib/propagation-timing.mjs';
import { rssKiB } from '../lib/procstat.mjs';

/** Sockets per peer server process: under the 20,000 open-files limit, with room for the propagation targets' extra sockets. */
export const PEER_SOCKETS_PER_PROCESS = 19000;

/** The phase names, in run order, for the given peer kinds. */
export function peerCapacityPhaseNames(kinds) {
  return kinds.map((k) => `capacity-${k}`);
}

/**
 * h: the orchestrator's helpers ({ cfg, log, startPeer, peerCtx, capacityServerCount, connectCapacityLoadgens,
 * holdTargets, readPeerMemory, readLoadAverage }). Returns { 'capacity-<peer>': async (tmp) => result };
 * each result goes to results.capacityPeers under the peer's kind.
 */
export function peerCapacityPhases(kinds, h) {
  const { cfg } = h;
  const sum = (list, f) => list.reduce((a, x, i) => a + f(x, i), 0);

  async function capacity(kind, tmp) {
    const edgeServers = h.capacityServerCount();
    const nodes = Math.min(peerMaxNodes(kind), edgeServers);
    const sessions = Math.min(cfg.capacityConns, nodes * PEER_SOCKETS_PER_PROCESS);
    const peer = await h.startPeer(kind, { ...h.peerCtx(tmp), nodes });
    const lgs = [];
    try {
      const loadAverage = h.readLoadAverage();
      const before = await h.readPeerMemory(peer);
      const supportRss = () => Object.fromEntries(Object.entries(peer.support).map(([k, pid]) => [k, rssKiB(pid)]));
      const support0 = supportRss();
      const servers = peer.urls.map((url) => ({ url }));
      const main = await h.connectCapacityLoadgens(servers, sessions, `capacity-${kind}`, { stdin: true, reportMs: 500, extra: peer.loadgenArgs });
      lgs.push(...main.lgs);
      if (main.opened < sessions) throw new Error(`capacity-${kind}: only ${main.opened} of ${sessions} sockets opened (${main.failed} failed: ${JSON.stringify(main.failures).slice(0, 800)})`);
      const after = await h.readPeerMemory(peer);
      const support1 = supportRss();
      const loadgenKiB = sum(main.lgs, (lg) => rssKiB(lg.pid));
      const perServer = peer.servers.map((s, i) => ({
        name: s.name,
        connections: after.stats[i]?.connections ?? main.shares[i],
        rssBeforeKiB: before.gc[i].rssKiB,
        rssAfterKiB: after.gc[i].rssKiB,
        kibPerConnection: (after.gc[i].rssKiB - before.gc[i].rssKiB) / main.shares[i],
        kibPerConnectionLeftAlone: (after.natural[i].rssKiB - before.natural[i].rssKiB) / main.shares[i],
        settled: after.gc[i].settled && after.natural[i].settled,
      }));
      const out = {
        label: peer.label,
        requested: cfg.capacityConns,
        sessions,
        servers: nodes,
        // Why fewer servers (or sessions) than the edges got, when so.
        limit: nodes < edgeServers ? `${kind === 'centrifugo-memory' ? "one node (Centrifugo's memory broker does not connect nodes)" : `at most ${nodes} server processes`}, at most ${PEER_SOCKETS_PER_PROCESS.toLocaleString('en-US')} sockets per process under the 20,000 open-files limit` : undefined,
        perServer: main.shares,
        loadgens: main.lgs.length,
        loadAverage,
        opened: main.opened,
        failed: main.failed,
        connectWallMs: main.connectWallMs,
        connectsPerSecond: main.opened / (main.connectWallMs / 1000),
        gcMethod: peer.gcMethod,
        memory: {
          // All server processes together, per connection (what the edges' figure means).
          kibPerConnection: sum(peer.servers, (_, i) => after.gc[i].rssKiB - before.gc[i].rssKiB) / main.opened,
          withoutForcedGc: { kibPerConnection: sum(peer.servers, (_, i) => after.natural[i].rssKiB - before.natural[i].rssKiB) / main.opened },
          perServer,
          settled: perServer.every((x) => x.settled),
        },
        support: Object.fromEntries(Object.keys(peer.support).map((k) => [k, { rssBeforeKiB: support0[k], rssAfterKiB: support1[k], kibPerConnection: (support1[k] - support0[k]) / main.opened }])),
        loadgenKiBPerSocket: loadgenKiB / main.opened,
      };
      h.log(`capacity-${kind}: ${main.opened} sessions on ${nodes} server(s) in ${(main.connectWallMs / 1000).toFixed(1)} s; ${out.memory.kibPerConnection.toFixed(2)} KiB/conn after GC`);

      // Kill propagation, with the population still connected.
      await peer.prepareKill();
      const held = await h.holdTargets(servers, main, cfg.propagationKills, `prop-${kind}`, { extra: peer.loadgenArgs, sockets: h.edgeSocketsPerSession() });
      lgs.push(...held.extras.flat());
      const time = propagationTimer(cfg.propagationRate);
      const kill = await time(held.targets.slice(0, cfg.propagationKills).map((t) => ({ id: `u${t.user}`, lgs: t.lgs })), (user) => peer.kill(user));
      const closes = await closeReasons(lgs);
      out.propagation = {
        api: peer.killApi,
        answered: kind !== 'socketio',
        socketsPerSession: held.socketsPerSession,
        targetsPerServer: held.perEdge,
        ratePerSecond: cfg.propagationRate,
        kill,
        closeReasons: closes,
        closes: { counted: sum(Object.values(closes), (c) => c), expected: cfg.propagationKills * held.socketsPerSession },
      };
      h.log(`capacity-${kind}: kill: last socket closed p50 ${kill.lastSocketClosedMs.p50?.toFixed(1)} ms, p99 ${kill.lastSocketClosedMs.p99?.toFixed(1)} ms, max ${kill.lastSocketClosedMs.max?.toFixed(1)} ms; ${kill.misses} missed`);
      return out;
    } finally {
      await Promise.all(lgs.map((lg) => lg.stop()));
      await peer.stop();
    }
  }

  return Object.fromEntries(kinds.map((k) => [`capacity-${k}`, (tmp) => capacity(k, tmp)]));
}
