// Interest (subscriptions) on a NATS cluster at scale (issue 12, docs/scaling.md):
//   node bench/nats-interest.mjs [--subs 1000000] [--edges 4] [--restarts 2] [--json bench/results/nats-interest.json]
//
// A 3-node nats-server cluster on loopback (no JetStream: interest is the subject; JetStream adds
// its own route traffic). `--edges` "edges", each a child process with one nats.js connection
// (@nats-io/transport-node) to node (k mod 3), subscribe to subjects shaped like the edge's:
// `mesh.push.user.<base64url user id>` and `mesh.push.session.<base64url session id>`, two per
// simulated user, subs/edges per edge. The edges subscribe one after the other; after each, every
// node is read once interest has reached all of them:
//   - RSS (/proc/<pid>/status VmRSS, left to settle), /varz mem, and the Go heap after a forced GC
//     (the profiling port's /debug/pprof/heap?gc=1&debug=1, HeapAlloc): "left alone" and "live";
//   - /subsz num_subscriptions, /routez in_bytes/out_bytes, CPU time of each nats-server;
//   so the bytes per subscription on the node the edge is connected to and on the other nodes
//   (route interest), and the route bytes and CPU per subscription.
// Then edge 0 "restarts" `--restarts` times: its connection is closed (the process exits), interest
// disappears from every node (timed), a new process connects to the same node and subscribes the
// same subjects again while a publisher on another node publishes to the first and the last of them
// every millisecond: time to resubscribe (until the server answered the flush), time until a publish
// from the other node reaches the first and the last re-subscribed subject, and time until every
// node's /subsz shows the interest again (polled every 25 ms).
//
// Everything started is stopped on exit (bench/lib/procs.mjs), also on an error or Ctrl-C.
// Environment: BENCH_NATS_SERVER or NATS_SERVER_BIN (else scripts/install-nats-server.sh).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cpuUs, rssKiB } from './lib/procstat.mjs';
import { Procs } from './lib/procs.mjs';
import { benchNatsServer, freePort, getJson, settleRss, until } from './lib/services.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const NODES = 3;
const SUBJECT_PREFIX = 'mesh.push';
const log = (msg) => process.stderr.write(`[nats-interest] ${msg}\n`);
/** Wall clock with sub-millisecond resolution, comparable between processes on one machine. */
const wallMs = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const out = { subs: 1_000_000, edges: 4, restarts: 2, json: join(ROOT, 'bench/results/nats-interest.json'), worker: false };
  const ints = { '--subs': ['subs', 2], '--edges': ['edges', 1], '--restarts': ['restarts', 0] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--edge-worker') {
      out.worker = true;
    } else if (a in ints) {
      const [key, min] = ints[a];
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) throw new Error(`${a} ${JSON.stringify(argv[i] ?? '')}: must be an integer from ${min}`);
      out[key] = v;
    } else if (a === '--json') {
      const v = argv[++i];
      if (!v) throw new Error('--json needs a file path');
      out.json = resolve(v);
    } else if (out.worker && ['--url', '--name', '--users-from', '--users-to'].includes(a)) {
      out[a.slice(2)] = argv[++i];
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node bench/nats-interest.mjs [--subs 1000000] [--edges 4] [--restarts 2] [--json bench/results/nats-interest.json]\n');
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${JSON.stringify(a)} (see --help)`);
    }
  }
  if (!out.worker && out.subs % (2 * out.edges) !== 0) {
    throw new Error(`--subs ${out.subs}: must be a multiple of 2 x --edges (${2 * out.edges}): two subscriptions per user, the same number of users per edge`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Subjects, as the edge builds them: <prefix>.push.user.<base64url(user id)> and .session.<...>

const token = (s) => Buffer.from(s, 'utf8').toString('base64url');
/** A session id shaped like a JWT `jti` (a UUID), derived from the user index. */
function sessionId(i) {
  const h = createHash('sha1').update(`s${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
const userSubject = (i) => `${SUBJECT_PREFIX}.user.${token(`user-${i}`)}`;
const sessionSubject = (i) => `${SUBJECT_PREFIX}.session.${token(sessionId(i))}`;

// ---------------------------------------------------------------------------------------------
// The "edge": one nats.js connection, commands on stdin, JSON lines on stdout.

async function runWorker(args) {
  const { connect } = await import('@nats-io/transport-node');
  const from = Number(args['users-from']);
  const to = Number(args['users-to']);
  const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const nc = await connect({ servers: args.url, name: args.name, reconnect: false, noRandomize: true, ignoreClusterUpdates: true });
  const probes = new Map([
    [userSubject(from), 'first'],
    [sessionSubject(to - 1), 'last'],
  ]);
  const received = {};
  const onMsg = (err, msg) => {
    if (err) return;
    const which = probes.get(msg.subject);
    if (which !== undefined && received[which] === undefined) {
      received[which] = wallMs();
      emit({ type: 'probe', which, t: received[which] });
    }
  };
  nc.closed().then((err) => {
    emit({ type: 'closed', error: err ? String(err) : undefined });
    process.exit(0);
  });
  emit({ type: 'ready', pid: process.pid });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'subscribe') {
      const t0 = wallMs();
      // User, then session, per user: the order an edge subscribes in when a user connects.
      for (let i = from; i < to; i++) {
        nc.subscribe(userSubject(i), { callback: onMsg });
        nc.subscribe(sessionSubject(i), { callback: onMsg });
      }
      const issued = wallMs();
      await nc.flush(); // the server has read every SUB once it answers this PING
      const flushed = wallMs();
      emit({ type: 'subscribed', count: 2 * (to - from), t0, issued, flushed, rssKiB: rssKiB(process.pid) });
    } else if (line === 'close') {
      await nc.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The cluster

async function startCluster(procs, bin, dir) {
  const routePorts = await Promise.all(Array.from({ length: NODES }, () => freePort()));
  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    const name = `n${i + 1}`;
    const [client, monitor, prof] = [await freePort(), await freePort(), await freePort()];
    const routes = routePorts.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p}"`);
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: "${name}"`,
        'host: "127.0.0.1"',
        `port: ${client}`,
        `http_port: ${monitor}`,
        // Profiling port: /debug/pprof/heap?gc=1 forces a GC and reports the live Go heap.
        `prof_port: ${prof}`,
        `cluster { name: "interest", listen: "127.0.0.1:${routePorts[i]}", routes: [${routes.join(', ')}] }`,
        '',
      ].join('\n'),
    );
    const proc = procs.start(name, bin, ['-c', conf]);
    nodes.push({ name, proc, pid: proc.pid, url: `nats://127.0.0.1:${client}`, monitor: `http://127.0.0.1:${monitor}`, prof: `http://127.0.0.1:${prof}` });
  }
  await until(
    async () => {
      const peers = await Promise.all(nodes.map(async (n) => new Set(((await getJson(`${n.monitor}/routez`)).routes ?? []).map((r) => r.remote_name)).size));
      return peers.every((p) => p === NODES - 1) ? true : undefined;
    },
    { timeoutMs: 20000, intervalMs: 50, what: 'every node routed to every other' },
  );
  return nodes;
}

async function numSubs(node) {
  return (await getJson(`${node.monitor}/subsz`)).num_subscriptions;
}

/** Live Go heap after a forced GC (runtime.MemStats from the heap profile's text form). */
async function liveHeap(node) {
  const res = await fetch(`${node.prof}/debug/pprof/heap?gc=1&debug=1`, { signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  const field = (f) => Number(new RegExp(`^# ${f} = (\\d+)`, 'm').exec(text)?.[1]);
  return { heapAllocBytes: field('HeapAlloc'), heapSysBytes: field('HeapSys'), sysBytes: field('Sys') };
}

/** Bytes the process read and wrote through syscalls (/proc/<pid>/io): route protocol traffic included. */
function ioBytes(pid) {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { readBytes: Number(/^rchar: (\d+)/m.exec(text)[1]), writtenBytes: Number(/^wchar: (\d+)/m.exec(text)[1]) };
}

/** CPU time (ms) and syscall I/O of every node at one instant: taken around a subscribe or a close. */
function activity(nodes) {
  return nodes.map((n) => ({ cpuMs: cpuUs(n.pid).total / 1000, ...ioBytes(n.pid) }));
}

function activityDelta(after, before) {
  return {
    cpuMs: Math.round(after.cpuMs - before.cpuMs),
    readBytes: after.readBytes - before.readBytes,
    writtenBytes: after.writtenBytes - before.writtenBytes,
  };
}

/** Message traffic on the routes as /routez counts it (messages only; RS+/RS- interest is not counted there). */
async function routeBytes(node) {
  const routes = (await getJson(`${node.monitor}/routez`)).routes ?? [];
  return routes.reduce((a, r) => ({ inBytes: a.inBytes + r.in_bytes, outBytes: a.outBytes + r.out_bytes, inMsgs: a.inMsgs + r.in_msgs, outMsgs: a.outMsgs + r.out_msgs }), {
    inBytes: 0,
    outBytes: 0,
    inMsgs: 0,
    outMsgs: 0,
  });
}

/** Everything read from one node: memory (settled, and live after GC), interest, routes, CPU. */
async function readNode(node) {
  const settled = await settleRss(() => rssKiB(node.pid), { toleranceKiB: 1024, maxMs: 20000 });
  const varz = await getJson(`${node.monitor}/varz`);
  const heap = await liveHeap(node);
  return {
    rssKiB: settled.rssKiB,
    rssSettled: settled.settled,
    varzMemBytes: varz.mem,
    ...heap,
    rssAfterGcKiB: rssKiB(node.pid),
    subscriptions: await numSubs(node),
    routes: await routeBytes(node),
  };
}

const readAll = (nodes) => Promise.all(nodes.map(readNode));

function delta(after, before) {
  return {
    subscriptions: after.subscriptions - before.subscriptions,
    rssKiB: after.rssKiB - before.rssKiB,
    varzMemBytes: after.varzMemBytes - before.varzMemBytes,
    heapAllocBytes: after.heapAllocBytes - before.heapAllocBytes,
    routeInBytes: after.routes.inBytes - before.routes.inBytes,
    routeOutBytes: after.routes.outBytes - before.routes.outBytes,
    routeInMsgs: after.routes.inMsgs - before.routes.inMsgs,
    routeOutMsgs: after.routes.outMsgs - before.routes.outMsgs,
  };
}

/** Polls every node's /subsz until it equals want[i]; resolves with the wall time each one got there. */
async function interestReached(nodes, want, timeoutMs = 300000) {
  const at = nodes.map(() => undefined);
  const deadline = performance.now() + timeoutMs;
  while (at.some((t) => t === undefined)) {
    await Promise.all(
      nodes.map(async (n, i) => {
        if (at[i] === undefined && (await numSubs(n)) === want[i]) at[i] = wallMs();
      }),
    );
    if (performance.now() > deadline) throw new Error(`interest did not reach ${JSON.stringify(want)} within ${timeoutMs} ms`);
    await sleep(25);
  }
  return at;
}

// ---------------------------------------------------------------------------------------------
// The run

function memAvailableMiB() {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : undefined;
}
const la = () => loadavg().map((x) => Math.round(x * 100) / 100);
const r1 = (x) => Math.round(x * 10) / 10;

async function main(args) {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const available = memAvailableMiB();
  // Observed here: up to about 2.2 KiB of RSS per subscription per node (live heap about 0.8 KiB,
  // the rest Go's GC headroom), plus about 3.5 KiB per subscription in a nats.js client. Half of
  // what is free, at most.
  const needMiB = Math.round((args.subs * (NODES * 2.2 + 3.5)) / 1024);
  if (available !== undefined && needMiB > available / 2) {
    throw new Error(`--subs ${args.subs} needs about ${needMiB} MiB and only ${available} MiB are available: lower --subs`);
  }
  const bin = benchNatsServer();
  const natsVersion = /v?(\d+\.\d+\.\d+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1];
  const dir = mkdtempSync(join(tmpdir(), 'nats-interest-'));
  const procs = new Procs(dir, undefined);
  const stop = async () => {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => stop().finally(() => process.exit(130)));
  log(`load average ${la().join(' ')}, ${available} MiB available, ${cpus().length} cores; ${args.subs} subscriptions over ${args.edges} edges`);

  const usersPerEdge = args.subs / args.edges / 2;
  const edgeNode = (k) => k % NODES;
  let workerSeq = 0;
  const startWorker = async (k, nodes) => {
    const w = procs.start(`edge${k}-${++workerSeq}`, process.execPath, [
      SELF,
      '--edge-worker',
      ...['--url', nodes[edgeNode(k)].url, '--name', `edge${k}`],
      ...['--users-from', String(k * usersPerEdge), '--users-to', String((k + 1) * usersPerEdge)],
    ], { stdin: true });
    await w.waitFor((m) => m.type === 'ready', 20000, 'ready');
    return w;
  };

  try {
    const nodes = await startCluster(procs, bin, dir);
    log(`cluster up: ${nodes.map((n) => `${n.name} ${n.url}`).join(', ')}`);
    const baseline = await readAll(nodes);
    const steps = [];
    let prev = baseline;
    const workers = [];
    for (let k = 0; k < args.edges; k++) {
      const home = edgeNode(k);
      const w = await startWorker(k, nodes);
      workers.push(w);
      const loadAverage = la();
      const act0 = activity(nodes);
      w.send('subscribe');
      const sub = await w.waitFor((m) => m.type === 'subscribed', 600000, 'subscribed');
      const want = prev.map((p) => p.subscriptions + 2 * usersPerEdge);
      const seen = await interestReached(nodes, want);
      const act1 = activity(nodes);
      const now = await readAll(nodes);
      const perNode = nodes.map((n, i) => ({
        node: n.name,
        role: i === home ? 'local' : 'remote',
        interestAllMs: Math.round(seen[i] - sub.t0),
        ...delta(now[i], prev[i]),
        ...activityDelta(act1[i], act0[i]),
      }));
      const step = {
        edge: k,
        node: nodes[home].name,
        subscriptions: sub.count,
        loadAverage,
        issueMs: Math.round(sub.issued - sub.t0),
        subscribeMs: Math.round(sub.flushed - sub.t0),
        clientRssKiB: sub.rssKiB,
        perNode,
      };
      steps.push(step);
      log(`edge ${k} -> ${step.node}: ${sub.count} subs in ${step.subscribeMs} ms; ${perNode.map((p) => `${p.node} ${p.role} +${Math.round(p.rssKiB / 1024)} MiB rss, ${r1((p.heapAllocBytes / p.subscriptions))} B/sub live, all interest at ${p.interestAllMs} ms`).join('; ')}`);
      prev = now;
    }
    const full = prev;

    // Restarts of edge 0: close, interest gone everywhere, reconnect, resubscribe, probes from another node.
    const restarts = [];
    const home = edgeNode(0);
    const pubNode = nodes[(home + 1) % NODES];
    const { connect } = await import('@nats-io/transport-node');
    const pub = await connect({ servers: pubNode.url, name: 'probe-publisher', noRandomize: true, ignoreClusterUpdates: true });
    const firstSubject = userSubject(0);
    const lastSubject = sessionSubject(usersPerEdge - 1);
    for (let r = 0; r < args.restarts; r++) {
      const before = await readAll(nodes);
      const loadAverage = la();
      const old = workers[0];
      const act0 = activity(nodes);
      const closeAt = wallMs();
      old.send('close');
      await old.exited;
      const goneAt = await interestReached(
        nodes,
        before.map((b) => b.subscriptions - 2 * usersPerEdge),
      );
      const act1 = activity(nodes);
      const gone = await readAll(nodes);
      const w = await startWorker(0, nodes);
      workers[0] = w;
      let probing = true;
      const prober = (async () => {
        while (probing) {
          pub.publish(firstSubject);
          pub.publish(lastSubject);
          await sleep(1);
        }
      })();
      const act2 = activity(nodes);
      w.send('subscribe');
      const sub = await w.waitFor((m) => m.type === 'subscribed', 600000, 'subscribed');
      const first = await w.waitFor((m) => m.type === 'probe' && m.which === 'first', 600000, 'first probe');
      const last = await w.waitFor((m) => m.type === 'probe' && m.which === 'last', 600000, 'last probe');
      const back = await interestReached(nodes, before.map((b) => b.subscriptions));
      const act3 = activity(nodes);
      probing = false;
      await prober;
      const after = await readAll(nodes);
      const restart = {
        restart: r + 1,
        edge: 0,
        node: nodes[home].name,
        publisherNode: pubNode.name,
        subscriptions: sub.count,
        loadAverage,
        interestGoneMs: Object.fromEntries(nodes.map((n, i) => [n.name, Math.round(goneAt[i] - closeAt)])),
        onClose: nodes.map((n, i) => ({ node: n.name, ...delta(gone[i], before[i]), ...activityDelta(act1[i], act0[i]) })),
        resubscribeMs: Math.round(sub.flushed - sub.t0),
        issueMs: Math.round(sub.issued - sub.t0),
        firstSubjectDeliveredMs: Math.round(first.t - sub.t0),
        lastSubjectDeliveredMs: Math.round(last.t - sub.t0),
        interestAllMs: Object.fromEntries(nodes.map((n, i) => [n.name, Math.round(back[i] - sub.t0)])),
        // CPU and I/O include the probe publishes (2 per millisecond) arriving at the publisher's node.
        onResubscribe: nodes.map((n, i) => ({ node: n.name, ...delta(after[i], gone[i]), ...activityDelta(act3[i], act2[i]) })),
      };
      restarts.push(restart);
      log(`restart ${r + 1}: interest gone in ${JSON.stringify(restart.interestGoneMs)} ms; resubscribed ${sub.count} in ${restart.resubscribeMs} ms; a publish on ${pubNode.name} reached the first subject after ${restart.firstSubjectDeliveredMs} ms, the last after ${restart.lastSubjectDeliveredMs} ms; interest everywhere at ${JSON.stringify(restart.interestAllMs)} ms`);
    }
    await pub.close();
    const end = await readAll(nodes);

    // Per subscription, over all steps: on the node its connection is on, and on the others.
    const rows = steps.flatMap((s) => s.perNode);
    const per = (role, f) => {
      const rs = rows.filter((p) => p.role === role);
      return r1(rs.reduce((a, p) => a + f(p), 0) / rs.reduce((a, p) => a + p.subscriptions, 0));
    };
    const summary = {
      totalSubscriptions: args.subs,
      perSubscription: Object.fromEntries(
        ['local', 'remote'].map((role) => [
          role,
          {
            rssBytes: per(role, (p) => p.rssKiB * 1024),
            varzMemBytes: per(role, (p) => p.varzMemBytes),
            liveHeapBytes: per(role, (p) => p.heapAllocBytes),
            // Syscall reads and writes of the node while the interest was made and spread: on the
            // local node the client's SUBs in and RS+ out to each peer; on a remote node RS+ in.
            readBytes: per(role, (p) => p.readBytes),
            writtenBytes: per(role, (p) => p.writtenBytes),
            cpuUs: per(role, (p) => p.cpuMs * 1000),
          },
        ]),
      ),
      nodesAtFull: nodes.map((n, i) => ({
        node: n.name,
        subscriptions: full[i].subscriptions,
        rssMiB: Math.round(full[i].rssKiB / 1024),
        rssGrowthMiB: Math.round((full[i].rssKiB - baseline[i].rssKiB) / 1024),
        liveHeapMiB: Math.round(full[i].heapAllocBytes / 2 ** 20),
        liveHeapGrowthMiB: Math.round((full[i].heapAllocBytes - baseline[i].heapAllocBytes) / 2 ** 20),
      })),
    };
    const result = {
      schema: 1,
      startedAt,
      durationS: Math.round((performance.now() - t0) / 1000),
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memTotalMiB: Math.round(totalmem() / 2 ** 20), memAvailableMiBAtStart: available, kernel: release(), loadAverageAtStart: steps[0]?.loadAverage },
      versions: { node: process.version, natsServer: natsVersion, natsJs: JSON.parse(readFileSync(join(ROOT, 'node_modules/@nats-io/nats-core/package.json'), 'utf8')).version },
      config: {
        nodes: NODES,
        jetstream: false,
        edges: args.edges,
        usersPerEdge,
        subscriptionsPerEdge: 2 * usersPerEdge,
        edgeNodes: Array.from({ length: args.edges }, (_, k) => nodes[edgeNode(k)].name),
        subjects: { user: `${userSubject(0)} (${userSubject(0).length} bytes)`, session: `${sessionSubject(0)} (${sessionSubject(0).length} bytes)` },
        // What one subscription costs on the wire when it spreads: `RS+ <account> <subject>\r\n` per route.
        rsPlusLineBytes: (`RS+ $G ${userSubject(0)}\r\n`.length + `RS+ $G ${sessionSubject(0)}\r\n`.length) / 2,
        probeIntervalMs: 1,
        interestPollMs: 25,
      },
      summary,
      baseline: nodes.map((n, i) => ({ node: n.name, ...baseline[i] })),
      steps,
      restarts,
      end: nodes.map((n, i) => ({ node: n.name, ...end[i] })),
      loadAverageAtEnd: la(),
    };
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
    log(`per subscription: ${JSON.stringify(summary.perSubscription)}`);
    log(`wrote ${args.json} (${result.durationS} s)`);
  } finally {
    await stop();
  }
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`nats-interest: ${err.message}\n`);
  process.exit(2);
}
if (args.worker) {
  runWorker(args).catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(1);
  });
} else {
  main(args).catch((err) => {
    // Our own refusals (memory, timeouts) read best as one line; anything else with its stack.
    log(`failed: ${err instanceof Error && !/^(Error|ProcessFailed)$/.test(err.name) ? err.stack : err.message}`);
    process.exitCode = 1;
  });
}
