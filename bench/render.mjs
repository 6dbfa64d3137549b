// Renders docs/benchmarks.md and its charts (docs/img/bench-*.svg) from a results file, so every
// number in the doc is a number of that run. run.mjs calls it at the end of a bench; by hand:
//   node bench/render.mjs [bench/results/latest.json]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Figures from shared/ENVIRONMENT.md, measured earlier on this machine kind (2026-11-23), not by this bench. */
export const EARLIER = {
  date: '2026-11-23',
  socketIo: { label: 'Socket.IO 4.8 (websocket only)', kibPerConnection: 13.6, broadcastPerSecond: 145000, usPerDelivery: 7 },
  socketIoRedis: { label: 'Socket.IO + redis-adapter, 2 processes', kibPerConnection: [12.5, 14], broadcastPerSecond: 140000, usPerDelivery: 7.5 },
  rawBroadcast: { label: 'raw uWebSockets.js app.publish broadcast', kibPerConnection: 0.97, broadcastPerSecond: 1100000, usPerDelivery: 0.5 },
};

const num = (v, digits = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const int = (v) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A horizontal bar chart as a standalone SVG string. bars: [{label, value, note?, color?}];
 * target: optional {value, label} drawn as a dashed line.
 */
export function barChart({ title, unit, bars, target, width = 760 }) {
  const rowH = 34;
  const left = 300;
  const right = 110;
  const top = 46;
  const height = top + bars.length * rowH + (target ? 34 : 14);
  const values = bars.map((b) => b.value).filter((v) => Number.isFinite(v));
  const max = Math.max(...values, target?.value ?? 0, 1e-9) * 1.08;
  const plotW = width - left - right;
  const x = (v) => left + (v / max) * plotW;
  const parts = svgStart(width, height, title);
  // The target line goes first so that bars and their labels are drawn over it.
  if (target) {
    const tx = x(target.value);
    const y1 = top - 4;
    const y2 = top + bars.length * rowH;
    parts.push(`<line x1="${tx.toFixed(1)}" y1="${y1}" x2="${tx.toFixed(1)}" y2="${y2}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${tx.toFixed(1)}" y="${y2 + 20}" text-anchor="middle" fill="#c0392b">${esc(target.label)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end" fill="#222">${esc(b.label)}</text>`);
    if (Number.isFinite(b.value)) {
      const w = Math.max(1, x(b.value) - left);
      parts.push(`<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 12}" fill="${b.color ?? '#4a78c2'}"/>`);
      const text = b.text ?? `${num(b.value, b.digits ?? 2)} ${unit}`;
      // A white box under the value keeps the target line from running through it.
      const textW = (text.length + (b.note ? b.note.length + 1 : 0)) * 7.4 + 6;
      parts.push(`<rect x="${(left + w + 3).toFixed(1)}" y="${y + 5}" width="${textW.toFixed(1)}" height="${rowH - 14}" fill="#ffffff"/>`);
      parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + 18}" fill="#222">${esc(text)}${b.note ? ` <tspan fill="#777">${esc(b.note)}</tspan>` : ''}</text>`);
    } else {
      parts.push(`<text x="${left + 6}" y="${y + 18}" fill="#a33">not measured</text>`);
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The opening of every chart: the svg element, a white background, the title. */
function svgStart(width, height, title) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="24" font-size="15" font-weight="bold" fill="#222">${esc(title)}</text>`,
  ];
}

/**
 * Lines over time as a standalone SVG string. series: [{label, color, points: [[x, y], ...]}];
 * marks: optional [{x, label}] drawn as dashed vertical lines. The y axis starts at 0.
 */
export function lineChart({ title, xUnit, yUnit, series, marks = [], width = 760, height = 340 }) {
  const left = 70;
  const right = 190;
  const top = 46;
  const bottom = 44;
  const all = series.flatMap((s) => s.points).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  const maxX = Math.max(...all.map(([a]) => a), 1e-9);
  const maxY = Math.max(...all.map(([, b]) => b), 1e-9) * 1.08;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (v) => left + (v / maxX) * plotW;
  const y = (v) => top + plotH - (v / maxY) * plotH;
  const parts = svgStart(width, height, title);
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#888"/>`, `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY / 1.08) * (i / 4);
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${esc(num(v, v >= 100 ? 0 : 1))}</text>`);
    const t = maxX * (i / 4);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" fill="#555">${esc(num(t, t >= 100 ? 0 : 1))}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle" fill="#222">${esc(xUnit)}</text>`);
  parts.push(`<text x="14" y="${top - 10}" fill="#222">${esc(yUnit)}</text>`);
  marks.forEach((m, i) => {
    parts.push(`<line x1="${x(m.x).toFixed(1)}" y1="${top}" x2="${x(m.x).toFixed(1)}" y2="${top + plotH}" stroke="#c0392b" stroke-dasharray="5,4"/>`);
    // Staggered labels, so marks close together do not print over each other; left of the line near the right edge.
    const nearRight = x(m.x) > left + plotW * 0.8;
    parts.push(`<text x="${(x(m.x) + (nearRight ? -4 : 4)).toFixed(1)}" y="${top + 12 + 14 * i}" text-anchor="${nearRight ? 'end' : 'start'}" fill="#c0392b">${esc(m.label)}</text>`);
  });
  series.forEach((s, i) => {
    const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`);
    const ly = top + 8 + i * 20;
    parts.push(`<line x1="${left + plotW + 14}" y1="${ly}" x2="${left + plotW + 34}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${left + plotW + 40}" y="${ly + 4}" fill="#222">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** met() for a floor: value ≥ limit. */
const metAtLeast = (value, limit) => met(-value, -limit);

function met(value, limit) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'not measured';
  return value <= limit ? '**met**' : '**not met**';
}

const TELEMETRY_FIGURES = [
  ['edgeUsPerDelivery', 'edge CPU per delivery (µs, user+system)', 2],
  ['deliveriesPerSecond', 'deliveries per second (whole pipeline)', 0],
  ['kibPerConnection', 'edge RSS per connection after GC (KiB)', 2],
  ['kibPerConnectionLeftAlone', 'edge RSS per connection left alone (KiB)', 2],
  ['heapBytesPerConnection', 'live JS heap per connection (B)', 0],
  ['rssBeforeKiB', 'edge RSS before any connection, after GC (KiB)', 0],
];

/** The telemetry on/off section, from bench/results/telemetry-overhead.json (bench/telemetry-overhead.mjs). */
export function renderTelemetry(t) {
  const c = t.config ?? {};
  const L = ['### Telemetry on and off', ''];
  L.push(
    `From \`node bench/telemetry-overhead.mjs\` (\`bench/results/telemetry-overhead.json\`), run of ${t.startedAt} (${t.durationS ?? '?'} s), separate from the run above ` +
      `(load average at its start: ${(t.loadAverageAtStart ?? []).join(', ') || 'n/a'}). Phases ${c.phases}, ${c.rounds} alternating rounds per mode and connection count. ` +
      `Off: \`MESH_METRICS=false\`, no tracing SDK. On: \`/metrics\` scraped every ${c.scrapeMs} ms${c.tracing ? `, tracing with OTLP export to a local sink, \`parentbased_traceidratio\` ${c.traceRatio}` : ', tracing off'}. ` +
      `${c.pushHeaders ? `Pushes carry \`Mesh-Published-At\` and a \`traceparent\` (sampled at ${c.traceRatio}) in both modes.` : 'Pushes carry no headers.'}`,
    '',
    '| figure | connections | off | on | on / off |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const [key, label, digits] of TELEMETRY_FIGURES) {
    for (const [name, v] of Object.entries(t.summary ?? {})) {
      const [k, at] = name.split(' @');
      if (k !== key || !Number.isFinite(v.off)) continue;
      L.push(`| ${label} | ${int(Number(at))} | ${num(v.off, digits)} | ${num(v.on, digits)} | ${num(v.ratio, 3)} |`);
    }
  }
  if (t.fits) {
    // RSS growth = fixed + per connection x n, fitted over every run of a mode.
    const { off, on } = t.fits;
    L.push(`| **fitted** edge RSS per connection (KiB) | all | ${num(off.kibPerConnection, 3)} | ${num(on.kibPerConnection, 3)} | ${num(on.kibPerConnection / off.kibPerConnection, 3)} |`);
    L.push(`| fitted growth not proportional to connections (KiB) | all | ${int(off.fixedKiB)} | ${int(on.fixedKiB)} | |`);
  }
  L.push(
    '',
    'RSS per connection is (RSS after − RSS before) / n, so it also counts growth that has nothing to do with connections (modules loaded ' +
      'and code compiled on first use, first runs of timers), which weighs more the fewer connections there are. The fitted rows take ' +
      'every run of a mode and fit RSS growth = fixed + per connection × n, separating the two. What telemetry costs: docs/operations.md ("Metrics and traces").',
    '',
  );
  return L;
}

const ms = (v) => (typeof v === 'number' && Number.isFinite(v) ? (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`) : 'n/a');

/** The durable-push section, from bench/results/durable.json (bench/durable.mjs, `npm run bench:durable`). */
export function renderDurable(d) {
  const c = d.config ?? {};
  const L = ['### Durable pushes: replay storm and cost', ''];
  L.push(
    `From \`npm run bench:durable\` (bench/durable.mjs, \`bench/results/durable.json\`), run of ${d.startedAt} (${d.durationS ?? '?'} s), separate from the runs above ` +
      `(load average at its start: ${(d.loadAverageAtStart ?? []).join(', ') || 'n/a'}). Real processes on loopback: one nats-server with JetStream (store on a local ${d.cost?.[0]?.nats?.fsType ?? 'disk'} file system), ` +
      `edges from \`services/edge/dist/main.js\`, clients on \`ws\` in the bench's own Node process (which also publishes, with \`@session-mesh/bus\`). ` +
      `Edge settings: \`MESH_DURABLE_REPLAY_CONCURRENCY=${c.replayConcurrency}\`, \`MESH_DURABLE_REPLAY_MAX=${c.replayMax}\`, \`MESH_DURABLE_MERGE_MAX=${c.mergeMax ?? 'unset (before merged reads)'}\`; ${c.payloadBytes}-byte payloads.` +
      ((d.loadAverageAtStart?.[0] ?? 0) > (d.machine?.cores ?? Infinity)
        ? ` **Other work was running on the machine** (load average ${d.loadAverageAtStart[0]} on ${d.machine.cores} cores when the run started): treat the times as pessimistic.`
        : ''),
    '',
  );
  for (const e of d.errors ?? []) L.push(`**Failed:** \`${e.phase}\`: ${e.error.split('\n')[0]}`, '');
  const s = d.storm;
  if (s) {
    L.push(
      `**Replay storm.** ${int(s.clients)} clients (distinct users, one tab each) connected to edge A and each received one durable push, so each knows its epoch and position. ` +
        `Edge A was SIGKILLed (every client saw its socket close within ${int(s.killToAllClosedMs)} ms); while they were away the publisher stored ${int(c.missedPerClient)} durable pushes per user ` +
        `(${int(s.sent)} in all, acked in ${num(s.publishedWhileAway.ms / 1000, 1)} s, ${int(s.publishedWhileAway.ackedPerSecond)}/s with ${int(c.window)} acks outstanding). ` +
        `Then all ${int(s.clients)} reconnected **at once** (no jitter; the loop starting them took ${int(s.startLoopMs)} ms) to the ${s.survivors} surviving edges, round robin, with \`?client=&position=&epoch=\`. ` +
        'Times are per client, from the start of its reconnect:',
      '',
      '| per client | p50 | p90 | p99 | max |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    const row = (label, p) => L.push(`| ${label} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} |`);
    row('reconnect start -> `welcome`', s.welcomeMs);
    row('reconnect start -> `position` frame (replay complete)', s.replayCompleteMs);
    row('`welcome` -> `position` frame', s.welcomeToPositionMs);
    const refused = Object.entries(s.refusals ?? {});
    L.push(
      '',
      `The whole storm (first reconnect started to last \`position\` frame): **${num(s.stormMs / 1000, 1)} s**. ` +
        `Sent ${int(s.sent)}, delivered ${int(s.delivered)}, **lost ${int(s.lost)}, duplicated ${int(s.duplicated)}**, not addressed to the client ${int(s.unexpected)}, ` +
        `clients with pushes out of order ${int(s.outOfOrderClients)}; \`recovered: true\` for ${int(s.recovered)} of ${int(s.clients)} (${int(s.failed)} never welcomed); ` +
        `upgrades refused or failed and retried: ${refused.length === 0 ? 'none' : refused.map(([k, v]) => `${k} x${v}`).join(', ')}. ` +
        `Each client's replay was compared with the publisher's acks for its user (positions and order).`,
      '',
      `A peer's published p99 for a reconnect storm, with reconnects spread by jitter, is 4.6 to 6.1 s (not measured on this machine); ours, every client at the same instant, ` +
        `is **${ms(s.replayCompleteMs.p99)}** to a complete replay (welcome included), on ${d.machine?.cores ?? '?'} cores shared by every process of the bench.`,
      '',
    );
    const storms = [s, ...(d.stormVariants ?? [])];
    L.push(
      'How the storm grows with what was stored while the clients were away (same clients, fresh processes per row):',
      '',
      '| pushes missed per client | messages in the stream | storm | reconnect -> `position` p50 / p99 | CPU during the storm (s) |',
      '| ---: | ---: | ---: | ---: | --- |',
    );
    for (const x of storms) {
      const stored = x.streamMessages ?? x.publishedWhileAway?.streamMessages;
      const lossNote = x.lost || x.duplicated ? ` (lost ${int(x.lost)}, duplicated ${int(x.duplicated)})` : '';
      L.push(
        `| ${int(x.missedPerClient)} | ${int(stored)} | ${num(x.stormMs / 1000, 1)} s${lossNote} | ${ms(x.replayCompleteMs.p50)} / ${ms(x.replayCompleteMs.p99)} | ` +
          `${Object.entries(x.cpuSeconds ?? {}).map(([k, v]) => `${k} ${num(v, 1)}`).join(', ')} |`,
      );
    }
    const cpu = s.cpuSeconds ?? {};
    const edgeMax = Math.max(...Object.entries(cpu).filter(([k]) => k.startsWith('edge')).map(([, v]) => v));
    L.push(
      '',
      'The edge sends `welcome` once the client\'s replay has been read, so welcome and `position` arrive together. ' +
        (c.mergeMax > 0
          ? `Resumes that arrive together are served by merged reads (one read of the union of their ranges, by pattern through an ordered consumer, when it spans at most ${int(c.mergeMax)} positions; one merged read at a time per edge): ` +
            'the time is the upgrades of the 5,000 reconnects plus one or two passes over the stored range per edge. '
          : `Every resume reads its own subjects (merged reads off), at most ${c.replayConcurrency} per edge in flight. `) +
        (cpu.nats > 2 * edgeMax
          ? `nats-server, not the edges, sets the pace: it burnt ${num(cpu.nats, 1)} s of CPU against at most ${num(edgeMax, 1)} s per edge. ` +
            "A replay read by subject from the client's position costs nats-server work in proportion to the messages stored after that position " +
            "(every user's, among which it finds the client's few), not only to the client's own."
          : ''),
      '',
    );
  }
  const cost = d.cost ?? [];
  if (cost.length > 0) {
    const x = cost[0];
    L.push(
      `**Cost of durable against at-most-once.** The same publisher and load: ${int(x.users)} connected users on 2 edges, pushes to random users for ${c.costSeconds} s, ` +
        `at most ${int(x.window)} outstanding (at-most-once: published and not yet received; durable: JetStream publishes awaiting their ack), then ${c.serialSeconds} s of one push at a time ` +
        '(the next once the previous one arrived: latency without queueing). Latency is from the publish call to the client reading the frame.',
      '',
      '| mode | nats-server JetStream fsync | published (acked)/s | delivered/s | latency p50 / p99, window | latency p50 / p99, one at a time | ack p50 / p99 | CPU µs per delivery: nats / edges / bench process | lost |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const m of cost) {
      const fsync = m.nats?.syncAlways ? 'before every ack (`sync_interval: always`)' : `every ${num(m.nats?.syncIntervalS, 0)} s (default)`;
      const cpu = m.cpuUsPerDelivery ?? {};
      L.push(
        `| ${m.mode} | ${fsync} | ${int(m.ackedPerSecond ?? m.publishedPerSecond)} | ${int(m.deliveredPerSecond)} | ${ms(m.latencyMs?.p50)} / ${ms(m.latencyMs?.p99)} | ` +
          `${ms(m.oneAtATime?.latencyMs?.p50)} / ${ms(m.oneAtATime?.latencyMs?.p99)} | ${m.ackLatencyMs ? `${ms(m.ackLatencyMs.p50)} / ${ms(m.ackLatencyMs.p99)}` : '–'} | ` +
          `${num(cpu.nats, 1)} / ${num((cpu.edgeA ?? 0) + (cpu.edgeB ?? 0), 1)} / ${num(cpu.bench, 1)} | ${int(m.lost)} of ${int(m.published)} |`,
      );
    }
    const lazy = cost.find((m) => m.ackLatencyMs && !m.nats?.syncAlways);
    const always = cost.find((m) => m.nats?.syncAlways);
    L.push('');
    if (lazy) {
      L.push(
        `With the default fsync the bench process (nats.js publisher plus every client) used the most CPU per durable push (${num(lazy.cpuUsPerDelivery?.bench, 1)} µs): ` +
          'a JetStream publish and its ack through nats.js cost far more than a core publish, so that row is limited by this publisher as much as by the server.',
      );
    }
    if (always) {
      L.push(
        `With \`sync_interval: always\` each ack waits for nats-server's fsync: ${int(always.ackedPerSecond)} acks/s is ${num(1000 / always.ackedPerSecond, 2)} ms per push, ` +
          `against ${ms(always.oneAtATime?.latencyMs?.p50)} end to end for one push at a time, so the writes were synced about one by one on this disk.`,
      );
    }
    L.push(
      'Every topology in this repository (scripts/local-cluster.sh, the Helm chart\'s bundled NATS, the bench and the tests) leaves `sync_interval` at its default; ' +
        'see [delivery.md §4](delivery.md#4-what-jetstream-itself-promises).',
      '',
    );
  }
  return L;
}

export function renderMarkdown(r, { svgPaths, telemetry, durable }) {
  const me = r.memory?.edge;
  const mr = r.memory?.raw;
  const pe = r.push?.edge;
  const pr = r.push?.raw;
  const c = r.config;
  const v = r.versions ?? {};
  const m = r.machine ?? {};
  const L = [];
  L.push('# Benchmarks', '');
  L.push(
    `> Generated by \`npm run bench\` (bench/render.mjs) from \`bench/results/latest.json\`, run of ${r.startedAt} (${r.durationS ?? '?'} s).`,
    '> Do not edit by hand: rerun the bench, or `node bench/render.mjs` to re-render the same results.',
    '',
  );
  if (c.short) {
    L.push('> **Short mode** (`BENCH_SHORT=1`, CI): every phase at tiny sizes, to check that each scenario runs and gives plausible figures. These figures are not benchmarks.', '');
  }
  if (r.mergedFrom) {
    L.push(
      `> Merged results (\`BENCH_MERGE=1\`): ${(r.config.phases ?? []).filter((p) => !(r.mergedFrom.phases ?? []).includes(p)).map((p) => `\`${p}\``).join(', ')} ran at ${r.startedAt}; ` +
        `the others are kept from earlier runs (${keptByStart(r)}). Each table gives the load average before its phase.`,
      '',
    );
  }
  const failed = (r.errors ?? []).filter((e) => !e.unavailable);
  if (failed.length) {
    L.push('**This run is incomplete.** Phases that failed:', '');
    for (const e of failed) L.push(`- \`${e.phase}\`: ${e.error.split('\n')[0]}`);
    L.push('');
  }

  L.push('## Results', '');
  L.push('### Memory per idle connection', '');
  L.push(
    `${int(c.conns)} connections held idle. Server RSS (\`VmRSS\`) before and after the connections, read once RSS stopped moving ` +
      '("left alone"), and again after forced full garbage collections ("after GC": live data; the JS heap column is live heap).',
    '',
  );
  L.push(
    '| server | connections | RSS per connection, after GC | RSS per connection, left alone | live JS heap per connection | source |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  );
  const memRow = (label, x, bold) =>
    `| ${label} | ${int(x.connections)} | ${bold ? `**${num(x.kibPerConnection)} KiB**` : `${num(x.kibPerConnection)} KiB`} | ` +
    `${num(x.withoutForcedGc?.kibPerConnection)} KiB | ${Number.isFinite(x.heapBytesPerConnection) ? `${int(x.heapBytesPerConnection)} B` : 'n/a (not a JS heap)'} | this run |`;
  if (me) L.push(memRow('Session Mesh edge (authenticated; its own user and session subscriptions each)', me, true));
  else L.push('| Session Mesh edge | – | not measured | – | – | this run |');
  if (r.memory?.mesh) L.push(memRow('Session Mesh single process (`services/mesh`, `npm start`: edge, registry and admin API on the in-process bus)', r.memory.mesh, false));
  if (mr) L.push(memRow('raw uWebSockets.js (no auth, no state)', mr, false));
  for (const k of PEER_ORDER) if (r.memory?.[k]) L.push(memRow(`${r.memory[k].label ?? PEER_LABELS[k]} (ratios: "Peers in the same run")`, r.memory[k], false));
  if (!r.memory?.socketio) {
    L.push(`| ${EARLIER.socketIo.label} | 15,000 | – | ${EARLIER.socketIo.kibPerConnection} KiB | – | measured earlier on this machine (${EARLIER.date}) |`);
    L.push(`| ${EARLIER.socketIoRedis.label} | 15,000 | – | ${EARLIER.socketIoRedis.kibPerConnection.join(' to ')} KiB | – | measured earlier on this machine (${EARLIER.date}) |`);
  }
  L.push(`| raw uWebSockets.js, earlier measurement | 15,000 | – | ${EARLIER.rawBroadcast.kibPerConnection} KiB | – | measured earlier on this machine (${EARLIER.date}) |`);
  L.push('');
  if (me?.nats) {
    L.push(
      `Beside the edge, the NATS server grew by ${num(me.nats.kibPerConnection)} KiB per connection ` +
        `(${num(me.nats.subscriptionsPerConnection, 1)} subscriptions per connection). ` +
        `The edge accepted the ${int(c.conns)} authenticated connections in ${num(me.connect.connectMs / 1000, 1)} s ` +
        `(${int(me.connectsPerSecond)} connects/s, up to the welcome frame).`,
      '',
    );
  }
  const lgKiB = me?.loadgenKiBPerSocket ?? mr?.loadgenKiBPerSocket;
  if (lgKiB !== undefined) L.push(`The Go load generator itself used ${num(lgKiB)} KiB of RSS per socket (a \`ws\`-based one costs about 22 KiB).`, '');
  L.push(`![memory per connection](${svgPaths.memory})`, '');

  L.push('### Targeted pushes', '');
  L.push(
    `Each push is ${c.payloadBytes} bytes to ONE random user (one socket each), the worst case for a WebSocket server: ` +
      'no batching across sockets, one `send` (and one TCP write) per delivery.',
    '',
  );
  L.push('| setup | deliveries | deliveries/s | server CPU per delivery (user + system) | source |', '| --- | ---: | ---: | ---: | --- |');
  if (pe) {
    L.push(
      `| Session Mesh: publisher -> NATS -> 2 edges (${int(pe.usersPerEdge)} users each) | ${int(pe.delivered)} | **${int(pe.deliveriesPerSecond)}** | ` +
        `**${num(pe.edgeUsPerDelivery)} µs** edges (${num(pe.edgeUserUsPerDelivery)} + ${num(pe.edgeSystemUsPerDelivery)}), ` +
        `NATS ${num(pe.cpu.nats.usPerDelivery)} µs | this run |`,
    );
  } else L.push('| Session Mesh: publisher -> NATS -> 2 edges | – | not measured | – | this run |');
  if (pr) {
    L.push(
      `| raw uWebSockets.js sending to random sockets itself (${int(pr.sockets)} sockets) | ${int(pr.delivered)} | ${int(pr.deliveriesPerSecond)} | ` +
        `${num(pr.serverUsPerDelivery)} µs (${num(pr.serverUserUsPerDelivery)} + ${num(pr.serverSystemUsPerDelivery)}) | this run |`,
    );
  }
  for (const k of PEER_ORDER) {
    const p = r.push?.[k];
    if (p) {
      L.push(
        `| ${p.label ?? PEER_LABELS[k]}, targeted (ratios: "Peers in the same run") | ${int(p.delivered)} | ${int(p.deliveriesPerSecond)} | ` +
          `${num(p.serverUsPerDelivery)} µs (${num(p.serverUserUsPerDelivery)} + ${num(p.serverSystemUsPerDelivery)}) | this run |`,
      );
    }
  }
  L.push(
    `| ${EARLIER.socketIo.label}, **broadcast** | – | about ${int(EARLIER.socketIo.broadcastPerSecond)} | about ${EARLIER.socketIo.usPerDelivery} µs | measured earlier on this machine (${EARLIER.date}) |`,
    `| ${EARLIER.socketIoRedis.label}, **broadcast** | – | about ${int(EARLIER.socketIoRedis.broadcastPerSecond)} | about ${EARLIER.socketIoRedis.usPerDelivery} µs | measured earlier on this machine (${EARLIER.date}) |`,
    `| ${EARLIER.rawBroadcast.label} | – | about ${int(EARLIER.rawBroadcast.broadcastPerSecond)} | about ${EARLIER.rawBroadcast.usPerDelivery} µs | measured earlier on this machine (${EARLIER.date}) |`,
    '',
    'The earlier figures are broadcasts (one message to every socket, batched per socket by the server): cheaper per delivery ' +
      'than targeted pushes and not directly comparable; they are listed as the only broadcast numbers for this machine.',
    '',
  );
  if (pe) {
    L.push('Where the CPU went during the Session Mesh run (2 cores = 2.0 cores busy at most, shared by every process):', '');
    L.push('| process | µs per delivery | user | system | cores busy |', '| --- | ---: | ---: | ---: | ---: |');
    const names = { edgeA: 'edge A', edgeB: 'edge B', nats: 'nats-server', publisher: 'publisher (Go, nats.go)', loadgen: 'load generator (Go, epoll)' };
    for (const [k, label] of Object.entries(names)) {
      const x = pe.cpu[k];
      if (x) L.push(`| ${label} | ${num(x.usPerDelivery)} | ${num(x.userUsPerDelivery)} | ${num(x.systemUsPerDelivery)} | ${num(pe.cpuCoresBusy[k])} |`);
    }
    const total = Object.values(pe.cpuCoresBusy).reduce((a, b) => a + b, 0);
    L.push(`| **all of the above** | ${num(Object.values(pe.cpu).reduce((a, b) => a + b.usPerDelivery, 0))} | | | ${num(total)} |`);
    if (pe.otherProcessesCoresBusy !== undefined) L.push(`| other processes on the machine (not the bench) | | | | ${num(pe.otherProcessesCoresBusy)} |`);
    L.push('');
    L.push(
      `Published ${int(pe.published)} in ${num(pe.publisherSeconds, 1)} s, delivered ${int(pe.delivered)} (${int(pe.lost)} not delivered` +
        `${pe.drainComplete ? '' : ', the count stopped short'}); NATS slow consumers during the run: ${pe.nats.slowConsumers}; ` +
        `edge drops reported by /stats: ${int((pe.edgeStats.a.drops ?? 0) + (pe.edgeStats.b.drops ?? 0))}; ` +
        `the publisher waited for the receivers ${pe.publisherStalls.count} times (${int(pe.publisherStalls.ms)} ms in total, window ${int(pe.publisherStalls.window)} pushes in flight).`,
      '',
    );
  }
  const warns = [...(me?.edgeLogWarnings ?? []).map((w) => ({ phase: 'memory', ...w })), ...(pe?.edgeLogWarnings ?? []).map((w) => ({ phase: 'push', ...w }))];
  if (warns.length > 0) {
    L.push('Warnings the edges logged during the run:', '');
    for (const w of warns) {
      const { level, time, pid, hostname, name, msg, phase, edge, ...rest } = w;
      L.push(`- ${phase} phase, ${edge}, ${time ?? ''}: ${msg ?? ''} \`${JSON.stringify(rest)}\``);
    }
    L.push('');
  }
  if (pr) {
    L.push(
      `Raw uWebSockets.js: the server process was ${num(pr.cpuCoresBusy.server)} cores busy and the load generator ${num(pr.cpuCoresBusy.loadgen)}` +
        `${pr.otherProcessesCoresBusy !== undefined ? ` (other processes on the machine: ${num(pr.otherProcessesCoresBusy)})` : ''}; ` +
        `${int(pr.server.sent)} sends written at once, ${int(pr.server.buffered)} buffered, ${int(pr.server.skippedBackpressure)} skipped for backpressure.`,
      '',
    );
  }
  L.push(`![CPU per targeted delivery](${svgPaths.push})`, '');
  L.push(...renderPeers(r));
  L.push(...renderScenarios(r));
  L.push(...renderCapacity(r));
  L.push(...renderCapacityPeers(r));
  L.push(...renderPropagation(r));
  L.push(...renderPropagationPeers(r));
  L.push(...renderChurn(r, svgPaths.churn));
  if (telemetry) L.push(...renderTelemetry(telemetry));
  if (durable) L.push(...renderDurable(durable));

  L.push('## Targets', '');
  L.push('| target | measured | |', '| --- | ---: | --- |');
  // Issue 12's targets, as ratios to raw uWS and to Centrifugo measured in this run.
  const memRatio = ratio(me?.kibPerConnection, mr?.kibPerConnection);
  L.push(`| edge memory per idle connection after GC ≤ 2× raw uWS's | ${me && mr ? `${num(me.kibPerConnection)} KiB vs ${num(mr.kibPerConnection)} KiB: ${x2(memRatio)}` : 'n/a'} | ${met(memRatio, 2)} |`);
  const satRatio = ratio(pe?.edgeUsPerDelivery, pr?.serverUsPerDelivery);
  L.push(`| edge CPU per targeted delivery at saturation ≤ 1.25× raw uWS's | ${pe && pr ? `${num(pe.edgeUsPerDelivery)} µs vs ${num(pr.serverUsPerDelivery)} µs: ${x2(satRatio)}` : 'n/a'} | ${met(satRatio, 1.25)} |`);
  for (const kind of ['centrifugo-memory', 'centrifugo-nats']) {
    const label = kind === 'centrifugo-memory' ? 'Centrifugo (memory broker)' : 'Centrifugo (NATS broker)';
    const sat = ratio(pe?.edgeUsPerDelivery, r.push?.[kind]?.serverUsPerDelivery);
    L.push(`| edge CPU per delivery at saturation ≤ 0.5× ${label}'s | ${Number.isFinite(sat) ? `${num(pe.edgeUsPerDelivery)} µs vs ${num(r.push[kind].serverUsPerDelivery)} µs: ${x2(sat)}` : 'n/a (peer not run)'} | ${met(sat, 0.5)} |`);
    const edge20 = r.latency?.edge?.steps?.find((x) => x.offeredPerSecond === 20000);
    const peer20 = r.latency?.[kind]?.steps?.find((x) => x.offeredPerSecond === 20000);
    const at20 = ratio(edge20?.edgeUsPerDelivery, peer20?.serverUsPerDelivery);
    L.push(`| edge CPU per delivery at 20,000/s ≤ 0.5× ${label}'s | ${Number.isFinite(at20) ? `${num(edge20.edgeUsPerDelivery)} µs vs ${num(peer20.serverUsPerDelivery)} µs: ${x2(at20)}` : 'n/a (peer not run)'} | ${met(at20, 0.5)} |`);
  }
  // Issue 12's ratio targets for the connect, latency and broadcast scenarios (raw uWS of this run as the reference).
  const hs = r.connect?.edge?.hs256;
  const cr = r.connect?.raw;
  const hsRatio = ratio(hs?.cpu?.edge?.usPerConnect, cr?.serverUsPerConnect);
  L.push(`| edge CPU per HS256 connect ≤ 3× raw uWS's | ${hs ? `${num(hs.cpu.edge.usPerConnect, 0)} µs vs ${num(cr?.serverUsPerConnect, 0)} µs: ${x2(hsRatio)}` : 'n/a'} | ${met(hsRatio, 3)} |`);
  const perCore = hs ? 1e6 / hs.cpu.edge.usPerConnect : NaN;
  L.push(`| ≥ 20,000 HS256 connects/s per edge core | ${hs ? int(perCore) : 'n/a'} | ${metAtLeast(perCore, 20000)} |`);
  const step20 = r.latency?.edge?.steps?.find((x) => x.offeredPerSecond === 20000);
  const r20 = ratio(step20?.edgeUsPerDelivery, pr?.serverUsPerDelivery);
  L.push(`| edge CPU per delivery at 20,000/s ≤ 1.5× raw uWS's at saturation | ${step20 ? `${num(step20.edgeUsPerDelivery)} µs vs ${num(pr?.serverUsPerDelivery)} µs: ${x2(r20)}` : 'n/a'} | ${met(r20, 1.5)} |`);
  const { step: half } = halfSaturationStep(r);
  L.push(`| p99 end to end < 5 ms at half of saturation | ${half ? `${num(half.latencyMs?.p99)} ms at ${int(half.offeredPerSecond)}/s` : 'n/a'} | ${met(half?.latencyMs?.p99, 5)} |`);
  const bRatio = ratio(r.broadcast?.edge?.burst?.deliveriesPerSecond, r.broadcast?.raw?.burst?.deliveriesPerSecond);
  L.push(`| broadcast deliveries/s ≥ 70 % of raw uWS's | ${Number.isFinite(bRatio) ? `${Math.round(bRatio * 100)} %` : 'n/a'} | ${metAtLeast(bRatio, 0.7)} |`);
  const mm = r.memory?.mesh;
  const meshRatio = ratio(mm?.kibPerConnection, mr?.kibPerConnection);
  L.push(`| single-process mesh (\`services/mesh\`) memory per idle connection after GC ≤ 3× raw uWS's | ${mm && mr ? `${num(mm.kibPerConnection)} KiB vs ${num(mr.kibPerConnection)} KiB: ${x2(meshRatio)}` : 'n/a (phase memory-mesh not run)'} | ${met(meshRatio, 3)} |`);
  const cap = r.capacity;
  L.push(`| NATS side < 1 KiB per connection (capacity phase) | ${cap ? `${num(cap.nats.kibPerConnection)} KiB` : 'n/a'} | ${met(cap?.nats.kibPerConnection, 1)} |`);
  L.push(`| registry < 0.5 KiB per connection (capacity phase, RSS after GC) | ${cap ? `${num(cap.registry.kibPerConnection)} KiB` : 'n/a'} | ${met(cap?.registry.kibPerConnection, 0.5)} |`);
  const pk = r.propagation?.kill;
  // A session with a socket left open has no close time: the target is not met, whatever the percentiles say.
  const killVerdict = pk?.misses ? '**not met**' : met(pk?.lastSocketClosedMs.p99, 100);
  L.push(`| kill reaches every socket of the session on every edge ≤ 100 ms at p99 with ${int(r.propagation?.sessions ?? 100000)} sessions (propagation phase) | ${pk ? `${msv(pk.lastSocketClosedMs.p99)} ms${pk.misses ? ` (${pk.misses} sessions not closed)` : ''}` : 'n/a'} | ${killVerdict} |`);
  L.push('');
  if (pe && pr) {
    L.push(
      `For scale: raw uWebSockets.js, doing nothing but the sends, spent ${num(pr.serverUsPerDelivery)} µs per targeted delivery in this run ` +
        `(${num(pr.serverSystemUsPerDelivery)} µs of it in the kernel). On loopback the sender's \`write\` also runs the receiver's TCP ` +
        'input path, so the system share is inflated here compared with a real network interface; the user shares compare the two processes\' own work more fairly.',
      '',
    );
  }

  L.push('## Method', '');
  L.push(
    `- One \`npm run bench\` runs these phases, each with fresh processes, all on loopback: ${(c.phases ?? []).map((x) => `\`${x}\``).join(', ')}. ` +
      'Before each phase it reads the 1-minute load average and, above 2, waits for it to drop (bounded by `BENCH_LOAD_WAIT_S`, 120 s per phase, and `BENCH_LOAD_WAIT_TOTAL_S`, 480 s in all); the value is recorded per phase in the JSON (`loadAverages`).',
    '- **Load generator**: `bench/loadgen`, Go, one epoll loop over raw non-blocking sockets (no goroutine per socket, a 64 KiB read buffer shared by all ' +
      'sockets, a few dozen bytes of state per socket). It mints an HS256 token per user (`sub` u<i>, `jti` s<i>), connects with ' +
      '`Authorization: Bearer`, subprotocol `session-mesh.v1` and `?client=c<i>`, counts a socket as up at the `welcome` frame (at the 101 in raw mode), ' +
      'answers pings, and counts `[0x01]` binary frames. Sockets spread over source addresses 127.0.0.1..127.0.0.k (10,000 per address).',
    `- **Memory**: ${int(c.conns)} users, one connection each (each gets its own user and session subscriptions: the worst case). RSS from ` +
      '`/proc/<pid>/status`, heap from `GET /stats`, both read when four readings 0.5 s apart are within 96 KiB of each other (bounded at 30 s); ' +
      'then two full GCs are forced through the inspector protocol (`HeapProfiler.collectGarbage`; the server runs with `--inspect` on loopback in this phase only) ' +
      'and both are read again once RSS settles. The same is done before the connections, so the difference is what the connections hold.',
    `- **Targeted pushes**: one nats-server (JetStream on, as the edge needs it), two edges with ${int(c.pushUsersPerEdge)} users each, one load-generator process ` +
      `holding all ${int(c.pushUsersPerEdge * 2)} sockets. A Go publisher (nats.go) publishes ${c.payloadBytes}-byte payloads to ` +
      '`mesh.push.user.<base64url(user)>` for random users as fast as it can for ' +
      `${c.pushSeconds} s, after a ${int(c.warmupPushes)}-push warm-up. It keeps at most ${int(c.window)} pushes published but not yet received ` +
      '(the load generator streams its count over a unix socket): without that window the publisher outruns the edges and the NATS server ' +
      'disconnects them as slow consumers, which measures an overload, not a throughput. CPU of every process from `/proc/<pid>/stat` ' +
      '(utime + stime, 10 ms resolution) between the start of the measured run and the last delivery, divided by deliveries counted by the load generator.',
    '- **Connect storm**, **latency at rising rates** and **broadcast**: described with their tables above (phases `connect-edge`, `connect-raw`, `latency-edge`, `broadcast-edge`, `broadcast-raw`; about 1.5 minutes together). ' +
      `The peers' phases \`connect-<peer>\`, \`latency-<peer>\`, \`broadcast-<peer>\` (bench/phases/peer-scenarios.mjs; ${peerScenarioSeconds(r)}) use the same helpers; \`BENCH_PEER_LATENCY_RATES\` sets their latency steps.`,
    `- **Capacity** (phase \`capacity\`, in the default run; ${r.phaseSeconds?.capacity ? `${r.phaseSeconds.capacity} s in this run` : 'about 1 minute'}; alone: \`BENCH_MERGE=1 BENCH_PHASES=capacity npm run bench\`): described with its table above. \`BENCH_CAPACITY_CONNS\` (100,000), \`BENCH_CAPACITY_EDGES\` (6, more when a share would exceed 19,500 sockets) and \`BENCH_CAPACITY_FILL\` (19,000) change its sizes.`,
    `- **Kill and blacklist propagation** (phase \`propagation\`, in the default run; ${r.phaseSeconds?.propagation ? `${r.phaseSeconds.propagation} s in this run` : 'under a minute'}; alone: \`BENCH_MERGE=1 BENCH_PHASES=propagation npm run bench\`): described with its table above.`,
    '- **Churn** (phase `churn`, `bench/phases/churn.mjs`, in the default run): described with its table above.',
    `- **Raw uWebSockets.js** (\`bench/raw-uws-server.mjs\`, same Node and uWS build as the edge): no auth, no NATS; \`GET /push\` sends ` +
      `[0x01][${c.payloadBytes} bytes] to random sockets (each send corked, as the edge does) for ${c.rawPushSeconds} s, skipping sockets with more than 64 KiB buffered.`,
    '',
  );

  L.push('## Machine and versions', '');
  L.push(
    `- ${m.cpuModel ?? '?'}, ${m.cores ?? '?'} cores, ${m.memoryGiB ?? '?'} GiB, ${m.os ?? '?'}, kernel ${m.kernel ?? '?'}`,
    `- Node ${v.node}, ${v.uWebSocketsJs ?? '?'}, nats-server ${v.natsServer ?? '?'}, ${v.go ?? 'go ?'}`,
    `- Session Mesh commit ${v.commit ?? '?'}${v.workTreeChanges ? ' with uncommitted changes in services/ or libs/' : ''}`,
    '',
  );
  const km = r.mergedFrom?.machine;
  if (km && (km.cpuModel !== m.cpuModel || km.kernel !== m.kernel)) {
    L.push(`The phases kept from earlier runs (merged results) ran on another machine of this kind: ${km.cpuModel ?? '?'}, ${km.cores ?? '?'} cores, kernel ${km.kernel ?? '?'}${r.mergedFrom.commit ? `, Session Mesh commit ${r.mergedFrom.commit}` : ''}. Compare ratios within a phase, not absolute numbers across phases.`, '');
  }

  L.push('## Reproduce', '');
  L.push(
    '```sh',
    'npm ci && npm run build      # the edge is services/edge/dist/main.js',
    `npm run bench                # about 15 to 20 minutes on 2 cores${r.mergedFrom ? '' : ` (this run: ${r.durationS ?? '?'} s)`}, first run +5 minutes to build Centrifugo; writes bench/results/latest.json and this page`,
    'npm run bench -- --short     # CI smoke (BENCH_SHORT=1): every phase at tiny sizes, output to a temporary folder; not benchmarks',
    '```',
    '',
    'The short mode (sizes in `bench/lib/short-mode.mjs`) checks that every scenario still runs and gives plausible figures: `test/bench/bench-short.test.ts` runs it in `npm test`. ' +
      'It uses a cached Centrifugo build but never starts one, so on a machine without one the Centrifugo phases are named as not run.',
    'scripts/bench.sh builds the load generator once (cached under `~/.cache/session-mesh/bin/loadgen-<hash of its sources>`), ' +
      'installs nats-server when missing, builds the edge, and stops every process it started, also on failure or Ctrl-C. ' +
      'For the peers it installs Debian\'s `redis-server` when missing (as root), runs `npm ci` in `bench/peers/socketio`, and builds Centrifugo once ' +
      '(`scripts/install-centrifugo.sh`, about 5 minutes on 2 cores, cached under `~/.cache/session-mesh/bin`); a peer that cannot be installed is named under "Not measured" with the reason. ' +
      'Knobs: `BENCH_CONNS` (15000), `BENCH_PUSH_USERS_PER_EDGE` (5000), `BENCH_PUSH_SECONDS` (15, at most 20), `BENCH_RAW_PUSH_SECONDS` (10), ' +
      '`BENCH_PHASES` (e.g. `memory-edge,push-edge` or `memory-socketio,push-centrifugo-nats`; peer phases: `memory-<peer>` and `push-<peer>` for `socketio`, `centrifugo-memory`, `centrifugo-nats`), ' +
      '`BENCH_STORM_CONNS` (15000), `BENCH_LATENCY_RATES` (5000,…,120000 pushes/s), `BENCH_LATENCY_SECONDS` (6 per rate), `BENCH_BROADCAST_SOCKETS` (10000), `BENCH_BROADCAST_BURST` (100), ' +
      '`BENCH_MERGE=1` (keep the previous results of the phases not selected, e.g. `BENCH_MERGE=1 BENCH_PHASES=latency-edge npm run bench`), `BENCH_MAX_LOAD` (2), `BENCH_LOAD_WAIT_S` (120) and `BENCH_LOAD_WAIT_TOTAL_S` (480), `BENCH_SKIP_EDGE=1` (baseline only). Process logs stay in the directory printed at the end.',
    '',
  );

  L.push('## Caveats', '');
  L.push(
    '- **Two cores for everything.** In the push runs the edges, nats-server, the publisher and the load generator share 2 cores, so deliveries/s is ' +
      'the throughput of the whole pipeline on this machine, not the capacity of one edge; CPU per delivery is the number that carries over. ' +
      'The "cores busy" table shows who used the machine, including processes that are not part of the bench' +
      `${r.loadAverageAtStart ? ` (load average when the run started: ${r.loadAverageAtStart.join(', ')})` : ''}.`,
    '- Before each measured push window the bench waits (up to 30 s) for a second in which processes outside the bench keep less than 0.25 cores busy; ' +
      `${[pe, pr].some((x) => x?.quietBefore && !x.quietBefore.quiet) ? '**in this run the machine did not get that quiet** (see "other processes" above).' : 'in this run it got that quiet before each window (what other processes used during the windows is given above).'}`,
    '- Loopback TCP: the sending process pays for the receiver\'s TCP input path in system time, so system CPU per delivery is higher than on a NIC, for the edge and the raw server alike.',
    '- The raw uWebSockets.js push baseline generates its messages in-process; the edge receives them from NATS (parsing, subject lookup). The difference between the two is the cost of the session layer plus the bus.',
    '- Memory: the "left alone" figures include garbage V8 had not collected yet and memory the allocator had not returned; the "after GC" figures count what the connections really hold. A production process sits somewhere between the two.',
    `- The raw-broadcast figures${r.memory?.socketio ? '' : ' and the Socket.IO figures'} marked "earlier" are from shared/ENVIRONMENT.md, measured earlier on a machine of this kind with \`ws\`-based clients, not by this bench.`,
    '- Peers: the Socket.IO publisher is a Node process (the emitter) and Centrifugo\'s memory-broker publisher goes through its HTTP API, so the publishers differ; only the server (and bus) CPU enters the ratios, never the publisher\'s. The connect storm, latency and broadcast scenarios run for the peers too (phases `connect-<peer>`, `latency-<peer>`, `broadcast-<peer>`), with fewer latency steps than the edge\'s; so do capacity and kill propagation (phases `capacity-<peer>`, through each peer\'s own disconnect API). The blacklist and churn run on Session Mesh only (the peers have no ban that outlives a reconnect here, and their presence is not what churn checks).',
    `- /proc CPU times have a resolution of 10 ms; over runs of ${c.pushSeconds} s the error is far below 1 %.`,
    '',
  );
  return `${L.join('\n')}`;
}

/** Kill and blacklist propagation (issue 12, scenario 5): admin call -> close frame on every socket of the session. */
export function renderPropagation(r) {
  const k = r.propagation;
  const L = ['### Kill and blacklist propagation', ''];
  if (!k) {
    L.push(`Not measured in this run: ${whyMissing(r, 'propagation')}. Alone: \`BENCH_MERGE=1 BENCH_PHASES=propagation npm run bench\`.`, '');
    return L;
  }
  L.push(
    `The capacity topology (${int(k.sessions)} authenticated sessions, one socket each, over ${k.edges} edges, one nats-server, one registry replica) plus the admin API ` +
      '(`services/admin/dist/main.js`, started before the edges: it creates the blacklist bucket). ' +
      `${int(k.targetsPerEdge * k.edges)} target sessions (the first ${int(k.targetsPerEdge)} of each edge's block) also connect from two more load generators to the next two edges ` +
      `(same token, same session, client ids \`c1-<i>\` and \`c2-<i>\`), so each is held by ${k.socketsPerSession} sockets on ${k.socketsPerSession} edges. ` +
      `One admin call at a time, at most ${int(k.ratePerSecond)} per second, so the figures are propagation, not queueing: ` +
      '`POST /v1/sessions/{sessionId}/kill` (202), then `POST /v1/blacklist/sessions` (201 once every live edge applied it) for other sessions. ' +
      'The time runs from sending the request to the load generator reading the close frame on the last of the session\'s sockets. ' +
      `Load average before the phase: ${phaseNote(r, 'propagation')}.`,
    '',
  );
  const row = (what, x, code) =>
    `| ${what} | ${x.requests} | **${msv(x.lastSocketClosedMs.p50)}** | **${msv(x.lastSocketClosedMs.p99)}** | ${msv(x.lastSocketClosedMs.max)} | ${msv(x.answerMs.p50)} / ${msv(x.answerMs.p99)} / ${msv(x.answerMs.max)} | ${code} | ${x.misses ? `**${x.misses}**` : 0} |`;
  L.push('| admin call | sessions | last socket closed p50 (ms) | p99 (ms) | max (ms) | admin answer p50 / p99 / max (ms) | close frames (counted / expected) | sessions with a socket still open after 5 s |', '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  const codes = (c) => `${c.code}: ${int(c.counted)} / ${int(c.expected)}`;
  L.push(row('kill a session (202)', k.kill, codes(k.killedCloses)));
  L.push(row('blacklist a session (201)', k.blacklist, codes(k.blacklistedCloses)));
  L.push('');
  L.push(
    'How it is timed: before each call the load generators holding the session\'s sockets are marked (stdin `mark`); the call goes out once every mark is acknowledged; ' +
      'each load generator reports the time from its mark to the last close it saw (`snap`). That time is an upper bound of the time from the request, ' +
      `longer by at most the mark's round trip (at most ${msv(Math.max(k.kill.markRoundTripMaxMs, k.blacklist.markRoundTripMaxMs))} ms in this run)` +
      (k.kill.lastSocketClosedLowerBoundMs ? `; counted as if every mark had landed when it was written, the kill's p99 is ${msv(k.kill.lastSocketClosedLowerBoundMs.p99)} ms and the blacklist's ${msv(k.blacklist.lastSocketClosedLowerBoundMs.p99)} ms. ` : '. ') +
      `Phase \`propagation\`, in the default run (${r.phaseSeconds?.propagation ? `${r.phaseSeconds.propagation} s in this run` : 'under a minute'}; alone: \`BENCH_MERGE=1 BENCH_PHASES=propagation npm run bench\`): ` +
      '`BENCH_PROPAGATION_KILLS` (200), `BENCH_PROPAGATION_BLACKLISTS` (200), `BENCH_PROPAGATION_RATE` (20 calls/s) and `BENCH_CAPACITY_CONNS` change its sizes.',
    '',
  );
  if (k.edgeLogWarnings?.length) L.push(`The edges logged ${k.edgeLogWarnings.length} warnings or errors (see \`propagation.edgeLogWarnings\` in the JSON).`, '');
  return L;
}

/** Capacity for the peers (phases capacity-<peer>): the same sessions in each peer's topology, as ratios edges / peer. */
export function renderCapacityPeers(r) {
  const k = r.capacity;
  const L = ['**The peers holding the same sessions** (phases `capacity-<peer>`, bench/phases/peer-capacity.mjs):', ''];
  L.push(
    'Each peer holds the same number of authenticated sessions (one socket and one user each) over as many server processes as the edges above, one load generator per process: ' +
      'Socket.IO processes on one Redis adapter and redis-server, Centrifugo nodes on one NATS broker and nats-server. Centrifugo\'s memory broker does not connect nodes, so it runs ' +
      'one node, which holds what one process can under the 20,000 open-files limit (19,000 sockets): its row says how many. RSS per connection is the growth of all server processes together ' +
      'after forced full GCs (as in the peers\' memory phase), divided by the sessions; the bus/store (redis-server, nats-server) is read as it is. ' +
      'Ratios are **Session Mesh / peer** (below 1: the edges use less); the edges\' side is the capacity table above (6 edges, one nats-server, one registry: ' +
      'the registry keeps presence, which neither peer keeps here). Time per connect is the wall time to connect all, divided by the sessions. ' +
      'Centrifugo with its memory broker holds fewer sessions on one process, so its ratios compare unlike populations: its memory per connection carries over, its times less so.',
    '',
  );
  L.push(
    '| peer | sessions (server processes) | time to connect all | server RSS/conn after GC | left alone | per process (after GC) | bus/store beside it | edges / peer after GC | edges + nats-server + registry / peer + its bus/store | time per connect, edges / peer | load |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |',
  );
  const em = k?.edgesMemory?.kibPerConnection;
  const emAll = k ? em + k.nats.kibPerConnection + k.registry.kibPerConnection : NaN;
  const edgePerConnectMs = k ? k.connectWallMs / k.opened : NaN;
  if (k) L.push(`| **Session Mesh** (${k.edges} edges + nats-server + registry) | ${int(k.opened)} (${k.edges}) | ${num(k.connectWallMs / 1000, 1)} s | **${num(em)} KiB** | ${num(k.edgesMemory.withoutForcedGc.kibPerConnection)} | – | nats-server ${num(k.nats.kibPerConnection)} KiB, registry ${num(k.registry.kibPerConnection)} KiB | 1 | 1 | 1 | ${loadOf(r, 'capacity')} |`);
  for (const kind of PEER_ORDER) {
    const c = r.capacityPeers?.[kind];
    if (!c) {
      L.push(`| ${PEER_SHORT[kind]} | ${missingText(r, `capacity-${kind}`)} | | | | | | | | | |`);
      continue;
    }
    const supportKiB = Object.values(c.support).reduce((a, x) => a + x.kibPerConnection, 0);
    const support = Object.entries(c.support).map(([n, x]) => `${n} ${num(x.kibPerConnection)} KiB`).join(', ') || 'none (in-process)';
    const perProcess = c.memory.perServer.map((x) => num(x.kibPerConnection)).join(', ');
    // Fewer servers than the edges (Centrifugo's memory broker: one node) can mean fewer sessions too.
    const why = kind === 'centrifugo-memory' ? "one node: the memory broker does not connect nodes; at most 19,000 sockets under the 20,000 open-files limit" : c.limit;
    const held = `${int(c.opened)}${c.sessions < c.requested ? ` of ${int(c.requested)}` : ''} (${c.servers})${c.servers < k?.edges && why ? ` (${why})` : ''}`;
    L.push(
      `| ${PEER_SHORT[kind]} | ${held} | ${num(c.connectWallMs / 1000, 1)} s | ${num(c.memory.kibPerConnection)} KiB | ${num(c.memory.withoutForcedGc.kibPerConnection)} | ${perProcess} | ${support} | ` +
        `**${x2(ratio(em, c.memory.kibPerConnection))}** | ${x2(ratio(emAll, c.memory.kibPerConnection + supportKiB))} | ${x2(ratio(edgePerConnectMs, c.connectWallMs / c.opened))} | ${loadOf(r, `capacity-${kind}`)} |`,
    );
  }
  L.push('');
  const unsettled = PEER_ORDER.filter((kind) => r.capacityPeers?.[kind] && !r.capacityPeers[kind].memory.settled);
  if (unsettled.length) L.push(`RSS did not settle within 30 s in a server process of ${unsettled.join(', ')}: the figures are the last readings.`, '');
  const secs = PEER_ORDER.filter((kind) => r.phaseSeconds?.[`capacity-${kind}`]).map((kind) => `capacity-${kind} ${r.phaseSeconds[`capacity-${kind}`]} s`);
  L.push(
    `Phases \`capacity-<peer>\`, in the default run (${secs.length ? `${secs.join(', ')} in this run, kill propagation included` : 'about a minute each, kill propagation included'}; alone: ` +
      '`BENCH_MERGE=1 BENCH_PHASES=capacity-socketio,capacity-centrifugo-memory,capacity-centrifugo-nats npm run bench`): `BENCH_CAPACITY_CONNS` and `BENCH_CAPACITY_EDGES` change their sizes.',
    '',
  );
  return L;
}

/** Kill propagation for the peers (second half of the capacity-<peer> phases), as ratios edge / peer. */
export function renderPropagationPeers(r) {
  const k = r.propagation;
  const L = ['**The peers\' own "disconnect this user now" calls** (second half of phases `capacity-<peer>`, with that phase\'s population connected):', ''];
  L.push(
    'Timed exactly like the admin kill above (marks, one call at a time at the same rate, the same number of calls, the same number of sockets per target session; bench/lib/propagation-timing.mjs). ' +
      'The peers disconnect a user where the edge kills a session: every bench session is its own user, so the same sockets close. ' +
      'Socket.IO\'s emitter call returns nothing (a Redis PUBLISH that every server process receives), so it has no answer to time; its sockets count as closed at the namespace ' +
      'disconnect packet (`41`) the server sends just before closing the connection, Centrifugo\'s at its close frame (3503 force disconnect), the edge\'s at its close frame (4005). ' +
      'Ratios are **Session Mesh / peer** (below 1: the edge closes the sockets sooner); Centrifugo with its memory broker holds 19,000 sessions in one process, not the edges\' population, ' +
      'and its call never leaves that process. The edge\'s row is from its own phase `propagation` (see its load and run time there).',
    '',
  );
  L.push(
    '| peer | disconnect call | sessions held (server processes) | calls | sockets per target | last socket closed p50 / p99 / max (ms) | call answered p50 / p99 (ms) | edge kill / peer at p50 | at p99 | sessions with a socket still open after 5 s | closes counted / expected | load |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  const ek = k?.kill?.lastSocketClosedMs;
  if (k) {
    L.push(
      `| **Session Mesh** (${k.edges} edges) | admin \`POST /v1/sessions/{id}/kill\` | ${int(k.sessions)} (${k.edges}) | ${k.kill.requests} | ${k.socketsPerSession} | **${msv(ek.p50)} / ${msv(ek.p99)} / ${msv(ek.max)}** | ${msv(k.kill.answerMs.p50)} / ${msv(k.kill.answerMs.p99)} | 1 | 1 | ${k.kill.misses} | ${int(k.killedCloses.counted)} / ${int(k.killedCloses.expected)} | ${loadOf(r, 'propagation')} |`,
    );
  }
  for (const kind of PEER_ORDER) {
    const c = r.capacityPeers?.[kind];
    const p = c?.propagation;
    if (!p) {
      L.push(`| ${PEER_SHORT[kind]} | ${c ? 'not measured: the capacity half failed' : missingText(r, `capacity-${kind}`)} | | | | | | | | | | |`);
      continue;
    }
    const pk = p.kill.lastSocketClosedMs;
    L.push(
      `| ${PEER_SHORT[kind]} | ${p.api} | ${int(c.opened)} (${c.servers}) | ${p.kill.requests} | ${p.socketsPerSession}${c.servers < p.socketsPerSession ? ' (on one process)' : ''} | ${msv(pk.p50)} / ${msv(pk.p99)} / ${msv(pk.max)} | ` +
        `${p.answered ? `${msv(p.kill.answerMs.p50)} / ${msv(p.kill.answerMs.p99)}` : 'none (no answer)'} | **${x2(ratio(ek?.p50, pk.p50))}** | **${x2(ratio(ek?.p99, pk.p99))}** | ${p.kill.misses ? `**${p.kill.misses}**` : 0} | ${int(p.closes.counted)} / ${int(p.closes.expected)} | ${loadOf(r, `capacity-${kind}`)} |`,
    );
  }
  L.push('');
  L.push(
    'The blacklist has no peer counterpart: Socket.IO has no server-side ban, and the open-source Centrifugo v6.9.1 declares `block_user` in its API schema but serves no handler for it ' +
      '(user blocking is a Centrifugo PRO feature), so only the kill is compared.',
    '',
  );
  return L;
}

/** Churn (issue 12, scenario 6): steady connects and disconnects for minutes; memory flat, presence exact. */
export function renderChurn(r, svgPath) {
  const k = r.churn;
  const L = ['### Churn', ''];
  if (!k) {
    L.push(`Not measured in this run: ${whyMissing(r, 'churn')}. Alone: \`BENCH_MERGE=1 BENCH_PHASES=churn npm run bench\`.`, '');
    return L;
  }
  const edgeNames = Object.keys(k.memory).filter((n) => n.includes('edge'));
  const minutes = k.seconds / 60;
  L.push(
    `One nats-server, ${k.edges} edges and one registry replica. One load generator holds ${int(k.heldSessions)} sessions for the whole phase; ` +
      `another holds ${int(k.churningSessions)} and, for ${k.seconds} s, closes ${int(k.ratePerSecond)} random open sockets per second (close frame 1000) and reconnects each at once ` +
      '(same user, session and token: a page reload). Every socket is its own user and session, spread over both edges. ' +
      `RSS after forced full GCs (inspector; nats-server is Go and read as it is) is read ${k.warmupSeconds} s into the churn (start of the steady state) ` +
      `and again at ${num(k.readingsAtS.end, 0)} s, still under churn: growth is their ratio, over ${int(k.cyclesBetweenReadings)} disconnect/reconnect cycles. ` +
      'Presence is read once every reconnect has resolved. The peers do not run this phase. ' +
      `Load average before the phase: ${phaseNote(r, 'churn')}.`,
    '',
  );
  const p = k.presence;
  const eq = (v) => (v === p.truth ? 'equal' : '**NOT equal**');
  const fl = k.failures;
  L.push('| figure | value |', '| --- | ---: |');
  L.push(`| disconnects / reconnects done | **${int(k.disconnects)} / ${int(k.connects)}** in ${k.seconds} s (${int(k.achievedPerSecond)} per second; ${int(k.disconnects / minutes)} per minute) |`);
  const sample = Object.values(fl.reconnectFailureSamples ?? {})[0];
  L.push(`| reconnects that failed; sockets the servers closed | ${int(fl.reconnectsFailed)}${Object.keys(fl.reconnectFailureReasons ?? {}).length ? ` (${esc(JSON.stringify(fl.reconnectFailureReasons)).slice(0, 200)}${sample ? `, e.g. \`${esc(sample.slice(0, 160))}\`` : ''})` : ''}; ${int(fl.heldClosedByServer + fl.churnClosedByServer)} |`);
  L.push(`| sockets held at the end (the truth) | ${int(p.truth)} (${int(p.held)} held + ${int(p.churning)} churning) |`);
  L.push(`| registry: connections / users / sessions | **${int(p.registry.connections)} / ${int(p.registry.users)} / ${int(p.registry.sessions)}** (${eq(p.registry.connections)} / ${eq(p.registry.users)} / ${eq(p.registry.sessions)})${p.registrySettledMs !== undefined ? `, read ${num(p.registrySettledMs / 1000, 1)} s after every reconnect had resolved` : ''} |`);
  L.push(`| edges' own counts (\`/stats\`, summed): connections / users / sessions | ${int(p.edges.connections)} / ${int(p.edges.users)} / ${int(p.edges.sessions)} (${eq(p.edges.connections)}; per edge ${p.edges.perEdge.map(int).join(' / ')}) |`);
  L.push(`| nats-server subscriptions at the end / predicted from the held sessions alone | ${int(k.nats.subscriptionsAtEnd)} / ${int(k.nats.subscriptionsExpected)} (${num(k.nats.subscriptionsPerSession, 2)} per session) |`);
  for (const [name, m] of Object.entries(k.memory)) {
    const trend = m.trend ? `; left alone, mean of the middle → last third ${num(m.trend.middleThirdKiB / 1024, 1)} → ${num(m.trend.lastThirdKiB / 1024, 1)} MiB (×${num(m.trend.ratio, 3)})` : '';
    L.push(`| ${name}: RSS ${m.forcedGc ? 'after GC' : '(no forced GC)'} at ${num(k.readingsAtS.start, 0)} s → ${num(k.readingsAtS.end, 0)} s | ${int(m.startKiB)} → ${int(m.endKiB)} KiB, **×${num(m.growthRatio, 3)}**${m.heapStart !== undefined ? `; live heap ${num(m.heapStart / 2 ** 20, 1)} → ${num(m.heapEnd / 2 ** 20, 1)} MiB` : ''}${trend}; after churn stopped ${int(m.afterStopKiB)} KiB |`);
  }
  const js0 = k.nats.jetStream.before;
  const js1 = k.nats.jetStream.after;
  L.push(`| JetStream (the registry's lifecycle events), from before the churning sessions connected to the end | ${int(js1.messages - js0.messages)} more messages, ${num((js1.bytes - js0.bytes) / 2 ** 20, 1)} MiB more stream data (now ${int(js1.messages)} messages) |`);
  L.push('');
  L.push(
    `${p.exact ? 'Presence was **exact**' : 'Presence was **NOT exact**'} at the end. Edges' RSS after GC grew by a factor of ${num(k.edgesGrowthRatio, 3)} (${edgeNames.length} edges summed) ` +
      `between the two readings${Object.values(k.memory).some((m) => !m.settled) ? ' (RSS was still moving a little at a reading under churn: the last value is given)' : ''}.`,
    '',
  );
  const natsMem = k.memory['nats-server'];
  if (natsMem) {
    L.push(
      `nats-server is Go and is not collected from outside: its two readings (×${num(natsMem.growthRatio, 3)}) are single points in its own GC cycle, and the means over thirds of the window ` +
        `(×${num(natsMem.trend?.ratio, 3)}) show its trend better. Its subscriptions came back to ${k.nats.subscriptionsAtEnd === k.nats.subscriptionsExpected ? 'exactly' : '**not** exactly'} what the sessions held at the end need, ` +
        'so its growth is not leftover subscriptions. The registry\'s lifecycle events stream, which keeps every connect and disconnect event for `MESH_EVENTS_MAX_AGE_S` (24 h by default, no byte limit), ' +
        `grew by ${num((js1.bytes - js0.bytes) / 2 ** 20, 1)} MiB (about ${int((js1.bytes - js0.bytes) / Math.max(1, js1.messages - js0.messages))} bytes per event); this phase does not separate that stream's share of nats-server's memory from the rest.`,
      '',
    );
  }
  if (svgPath) L.push(`![RSS over time under churn](${svgPath})`, '');
  L.push(
    `Phase \`churn\` (${r.phaseSeconds?.churn ? `${r.phaseSeconds.churn} s in this run` : 'a few minutes'}; alone: \`BENCH_MERGE=1 BENCH_PHASES=churn npm run bench\`): ` +
      '`BENCH_CHURN_SECONDS` (180), `BENCH_CHURN_RATE` (300 per second), `BENCH_CHURN_HELD` (10,000) and `BENCH_CHURN_SOCKETS` (2,000) change its sizes.',
    '',
  );
  if (k.edgeLogWarnings?.length) L.push(`The edges logged ${k.edgeLogWarnings.length} warnings or errors (see \`churn.edgeLogWarnings\` in the JSON).`, '');
  return L;
}

/** RSS of every server process over the churn phase. */
function churnChart(k) {
  const colors = ['#2e7d32', '#66a86a', '#8e6bbf', '#c27c4a', '#4a78c2'];
  const names = Object.keys(k.memory);
  return lineChart({
    title: `RSS under churn (${int(k.ratePerSecond)} disconnects + reconnects per second, ${int(k.heldSessions + k.churningSessions)} sessions)`,
    xUnit: 'seconds since churn started',
    yUnit: 'RSS (MiB)',
    series: names.map((n, i) => ({ label: n.replace(/^bench-/, ''), color: colors[i % colors.length], points: k.samples.map((s) => [s.t, s[n] / 1024]) })),
    marks: [
      { x: k.readingsAtS.start, label: 'GC reading' },
      { x: k.readingsAtS.end, label: 'GC reading' },
      { x: k.seconds, label: 'churn ends' },
    ],
  });
}

/** Idle capacity (issue 12, scenario 1): many sessions over several edges, and one edge filled near its open-files limit. */
export function renderCapacity(r) {
  const k = r.capacity;
  const L = [`### Capacity: ${int(k?.connections ?? 100000)} sessions`, ''];
  if (!k) {
    L.push(`Not measured in this run: ${whyMissing(r, 'capacity')}. Alone: \`BENCH_MERGE=1 BENCH_PHASES=capacity npm run bench\`.`, '');
    return L;
  }
  const failedNote = k.failed ? ` (**${int(k.failed)} failed**: ${esc(JSON.stringify(k.failures)).slice(0, 300)})` : ' (0 failed)';
  L.push(
    `${int(k.connections)} authenticated sessions, one socket and one user each, held at once by ${k.edges} edge processes (${k.perEdge.map(int).join(' / ')} sockets) on one nats-server, ` +
      `with one registry replica (\`services/registry/dist/main.js\`, \`MESH_KV_REPLICAS=1\`) keeping their presence. ${k.loadgens} load-generator processes, one per edge, ` +
      `each over ${k.sourcesPerLoadgen} source addresses (127.0.0.1..127.0.0.${k.sourcesPerLoadgen}); every process here stays under the machine's limit of 20,000 open files. ` +
      'RSS read as in the memory phase (settled, then after two forced full GCs through the inspector in every edge and in the registry, in parallel); the edge figure is the sum over all edges. ' +
      `Load average before the phase: ${phaseNote(r, 'capacity')}.`,
    '',
  );
  const row = (what, v) => `| ${what} | ${v} |`;
  const em = k.edgesMemory;
  const rg = k.registry;
  L.push('| figure | value |', '| --- | ---: |');
  L.push(row('sessions connected (welcome received)', `**${int(k.opened)}** of ${int(k.connections)}${failedNote}`));
  L.push(row('time to connect all (from starting the load generators, all in parallel, to the last welcome)', `${num(k.connectWallMs / 1000, 1)} s (${int(k.connectsPerSecond)} connects/s)`));
  L.push(row('connections the edges report (`/stats`, summed)', int(k.edgeConnections)));
  L.push(
    row(
      'connections in the registry\'s presence (`mesh_registry_connections`) against the truth',
      `${int(rg.connectionsCounted)} (${rg.countMatched ? 'equal' : '**NOT equal**'}; users ${int(rg.usersCounted)}, sessions ${int(rg.sessionsCounted)})${rg.caughtUpMs ? `, complete ${num(rg.caughtUpMs / 1000, 1)} s after the first connect` : ''}`,
    ),
  );
  L.push(row('edges: RSS per connection after GC (sum of edges)', `**${num(em.kibPerConnection)} KiB** (per edge ${em.perEdgeKiBAfterGc.map((x) => num(x)).join(', ')})`));
  L.push(row('edges: RSS per connection left alone', `${num(em.withoutForcedGc.kibPerConnection)} KiB`));
  L.push(row('edges: live JS heap per connection', `${int(em.heapBytesPerConnection)} B`));
  const js0 = k.nats.before.jetstream;
  const js1 = k.nats.after.jetstream;
  const jsNote = js0 && js1 ? `; JetStream ${int(js1.messages - js0.messages)} more messages, ${num((js1.bytes - js0.bytes) / 1024 / k.opened)} KiB of stream data per connection` : '';
  L.push(row('nats-server: RSS growth per connection (left alone)', `**${num(k.nats.kibPerConnection)} KiB** (${num(k.nats.subscriptionsPerConnection, 1)} subscriptions per connection${jsNote})`));
  L.push(row('registry: RSS growth per connection after GC', `**${num(rg.kibPerConnection)} KiB** (left alone ${num(rg.withoutForcedGc.kibPerConnection)} KiB)`));
  L.push(row('registry: live JS heap per connection (`nodejs_heap_size_used_bytes` after GC)', `${int(rg.heapBytesPerConnection)} B`));
  L.push(row('load generators: RSS per socket', `${num(k.loadgenKiBPerSocket)} KiB`));
  const f = k.fill;
  if (f) {
    L.push(
      row(
        `one edge filled close to its open-files limit: ${int(f.connections)} sockets (${int(f.openFiles)} open files of ${int(f.openFilesLimit)}), RSS per connection after GC`,
        `**${num(f.kibPerConnection)} KiB** (left alone ${num(f.withoutForcedGc.kibPerConnection)} KiB; live heap ${int(f.heapBytesPerConnection)} B; connected in ${num(f.connect.connectMs / 1000, 1)} s)`,
      ),
    );
  }
  L.push('');
  if (!em.settled || !rg.settled) L.push('RSS did not settle within 30 s in at least one process: the figures above are the last readings.', '');
  if (k.edgeLogWarnings?.length) L.push(`The edges logged ${k.edgeLogWarnings.length} warnings or errors (see \`capacity.edgeLogWarnings\` in the JSON).`, '');
  L.push(
    'nats-server\'s growth includes the registry\'s lifecycle events stream (`MESH_EVENTS`, JetStream on disk with its in-memory caches) as well as the per-user and per-session subscriptions; ' +
      'it is read without a forced GC (Go). The registry\'s figure is a whole process (presence store, its JetStream consumer and buffers), not only the store that `bench/registry-memory.mjs` measures.',
    '',
  );
  return L;
}

const msv = (v) => (typeof v === 'number' && Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(2)) : 'n/a');
const phaseNote = (r, phase) => {
  const at = r.phaseStartedAt?.[phase];
  const merged = r.mergedFrom && !(r.mergedFrom.phases ?? []).includes(phase);
  return `${loadOf(r, phase)}${merged && at ? `; run ${at.slice(0, 16).replace('T', ' ')}` : ''}`;
};

/**
 * Kept phases of a merged run, grouped into the runs they came from (merges chain, so the previous
 * run's start is not theirs): phases that started within 10 minutes of the one before share a run.
 */
function keptByStart(r) {
  const kept = (r.mergedFrom.phases ?? []).map((p) => ({ p, at: r.phaseStartedAt?.[p] ?? r.mergedFrom.startedAt ?? '' })).sort((a, b) => a.at.localeCompare(b.at));
  const groups = [];
  for (const k of kept) {
    const last = groups[groups.length - 1];
    if (last && Date.parse(k.at) - Date.parse(last.lastAt) <= 10 * 60 * 1000) {
      last.phases.push(k.p);
      last.lastAt = k.at;
    } else {
      groups.push({ from: k.at, lastAt: k.at, phases: [k.p] });
    }
  }
  return groups.map((g) => `run from ${g.from.slice(0, 16).replace('T', ' ') || '?'}: ${g.phases.map((p) => `\`${p}\``).join(', ')}`).join('; ');
}

/** The highest paced step at or below half the saturation rate, and that rate. */
export function halfSaturationStep(r) {
  const steps = r.latency?.edge?.steps ?? [];
  const sat = Math.max(r.push?.edge?.deliveriesPerSecond ?? 0, ...steps.map((s) => s.deliveriesPerSecond));
  const under = steps.filter((s) => s.offeredPerSecond <= sat / 2);
  return { saturation: sat, step: under[under.length - 1] };
}

/** Connect storm, targeted-push latency at rising rates, broadcast (issue 12, scenarios 2 to 4). */
export function renderScenarios(r) {
  const L = [];
  const ce = r.connect?.edge;
  const cr = r.connect?.raw;
  L.push('### Connect storm', '');
  if (!ce && !cr && !PEER_ORDER.some((k) => r.connect?.[k])) {
    L.push(`Not measured in this run: ${whyMissing(r, 'connect-edge')}.`, '');
  } else {
    const n = ce?.connects ?? cr?.connects;
    L.push(
      `A fresh load generator opens ${int(n)} sockets to one server, 256 handshakes in flight (after a 2,000-socket warm-up storm that is not counted). ` +
        'Upgrade-to-welcome is the time from writing the upgrade request to the `welcome` frame (for raw uWebSockets.js: to its 101); with 256 in flight it includes queueing in the server. ' +
        'Server CPU from `/proc` between the start of the load generator and the last welcome, divided by the connects; "connects/s per core" is 1 s / CPU per connect. ' +
        'Each token is minted by the load generator (HS256 with the edge\'s secret; ES256 with a P-256 key whose public half the edge is given). ' +
        'The peers get the same storm from the same load generator, with an HS256 token each: Centrifugo in its connect command (welcome: the connect reply), ' +
        'Socket.IO in the namespace CONNECT packet, verified by the peer\'s own middleware (welcome: the `40{sid}` answer); a peer\'s CPU is that of all its server processes together.',
      '',
      '| server | connects/s (wall) | server CPU per connect (user + system) | connects/s per server core | nats-server (or Redis) CPU per connect | upgrade-to-welcome p50 | p99 | p999 | edge / raw (CPU per connect) | edge HS256 / peer (CPU per connect) | load |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    const edgeUs = ce?.hs256?.cpu?.edge?.usPerConnect;
    const row = (label, x, main, phase) => {
      if (!x) return `| ${label} | ${missingText(r, phase)} | | | | | | | | | |`;
      // A peer's figure is the sum over its server processes (serverUsPerConnect and its parts).
      const c = x.servers ? { usPerConnect: x.serverUsPerConnect, userUsPerConnect: x.serverUserUsPerConnect, systemUsPerConnect: x.serverSystemUsPerConnect } : x.cpu[main];
      const bus = x.servers ? Object.entries(x.supportUsPerConnect ?? {}).map(([k, v]) => `${k} ${num(v, 1)} µs`).join(', ') || '–' : x.cpu.nats ? `${int(x.cpu.nats.usPerConnect)} µs` : '–';
      const toRaw = x.servers ? '–' : main === 'edge' ? `**${x2(ratio(c.usPerConnect, cr?.serverUsPerConnect))}**` : '1';
      const toPeer = x.servers ? `**${x2(ratio(edgeUs, c.usPerConnect))}**` : '–';
      return `| ${label} | ${int(x.connectsPerSecond)} | **${int(c.usPerConnect)} µs** (${int(c.userUsPerConnect)} + ${int(c.systemUsPerConnect)}) | ${int(1e6 / c.usPerConnect)} | ${bus} | ${msv(x.connectTime?.p50)} ms | ${msv(x.connectTime?.p99)} ms | ${msv(x.connectTime?.p999)} ms | ${toRaw} | ${toPeer} | ${phaseNote(r, phase)} |`;
    };
    L.push(row('**Session Mesh edge**, HS256', ce?.hs256, 'edge', 'connect-edge'));
    L.push(row('**Session Mesh edge**, ES256', ce?.es256, 'edge', 'connect-edge'));
    L.push(row('raw uWebSockets.js (101, no auth)', cr, 'server', 'connect-raw'));
    for (const k of PEER_ORDER) L.push(row(`${r.connect?.[k]?.label ?? PEER_LABELS[k]}, HS256`, r.connect?.[k], 'server', `connect-${k}`));
    L.push('');
    const peerRatios = PEER_ORDER.filter((k) => r.connect?.[k] && ce?.hs256).map((k) => {
      const p = r.connect[k];
      return `${PEER_SHORT[k]}: CPU per connect ${x2(ratio(edgeUs, p.serverUsPerConnect))}, connects/s (wall) ${x2(ratio(ce.hs256.connectsPerSecond, p.connectsPerSecond))}, ` +
        `upgrade-to-welcome p50 ${x2(ratio(ce.hs256.connectTime?.p50, p.connectTime?.p50))}, p99 ${x2(ratio(ce.hs256.connectTime?.p99, p.connectTime?.p99))}`;
    });
    if (peerRatios.length) L.push(`**Edge (HS256) / peer**: ${peerRatios.join('; ')}.`, '');
    L.push(
      `CPU per connect comes from \`/proc\` times of 10 ms resolution over the storm (${cr ? `raw: ${int(cr.cpu.server.usPerConnect * cr.connects / 1000)} ms in all` : 'n/a'}${ce?.hs256 ? `, edge HS256: ${int(ce.hs256.cpu.edge.usPerConnect * ce.hs256.connects / 1000)} ms` : ''}), so the raw figure is good to about ±${num(10000 / (cr?.connects ?? n), 1)} µs. ` +
        'The edge also makes nats-server work per connect (its user and session subscriptions): that column is not in the ratio. ' +
        `The load generator shares the 2 cores and mints every token itself (${ce?.hs256 ? `HS256: ${num(ce.hs256.loadgenCpuUs / ce.hs256.connects, 0)} µs of its CPU per connect` : ''}${ce?.es256 ? `, ES256: ${num(ce.es256.loadgenCpuUs / ce.es256.connects, 0)} µs` : ''}${cr ? `, raw: ${num(cr.loadgenCpuUs / cr.connects, 0)} µs` : ''}), ` +
        'so the wall-clock connects/s are those of this machine, not of one edge core: CPU per connect is the figure that carries over.',
      '',
    );
  }

  const le = r.latency?.edge;
  L.push('### Targeted-push latency at rising rates', '');
  const latencyPeers = PEER_ORDER.filter((k) => r.latency?.[k]);
  if (!le && !latencyPeers.length) {
    L.push(`Not measured in this run: ${whyMissing(r, 'latency-edge')}.`, '');
  } else {
    const { saturation, step: half } = halfSaturationStep(r);
    const lx = le ?? r.latency[latencyPeers[0]];
    L.push(
      `Same topology as the targeted pushes (nats-server, two edges, ${int(lx.sockets)} users, one socket each, ${r.config.payloadBytes}-byte payloads to random users). ` +
        `The Go publisher is paced (each millisecond it publishes what is due) at each offered rate for ${le.secondsPerStep} s, a fresh publisher per rate, rising until a rate is not delivered (saturation). ` +
        'Latency is end to end: the publisher writes its clock (Unix ns) into each payload just before `nc.Publish`, and the load generator subtracts it from its clock at receipt (same machine, same clock), ' +
        'through NATS, the edge and loopback TCP. CPU per delivery of both edges together over each step, from `/proc`. ' +
        `The peers get the same load generator, socket count and paced publishers (their own, as in "Peers in the same run") at fewer rates (${(lx.rates ?? r.latency[latencyPeers[0]]?.rates ?? []).map(int).join(', ') || 'n/a'} pushes/s), ` +
        'also until a rate is not delivered; their CPU is that of all their server processes. "edge / this" divides the edge\'s p99 and CPU per delivery at the same offered rate by the peer\'s.',
      '',
      '| server | offered pushes/s | delivered/s | p50 | p99 | p999 | max | server CPU per delivery (user + system) | vs at saturation | nats-server (or Redis) per delivery | server busy (cores) | edge / this: p99, CPU |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    const edgeAt = (rate) => le?.steps?.find((s) => s.offeredPerSecond === rate);
    const stepRow = (label, s, cpu, satUs, bus, busy, rel) => {
      const l = s.latencyMs ?? {};
      return `| ${label} | ${int(s.offeredPerSecond)}${s.saturated ? ' (saturated)' : ''} | ${int(s.deliveriesPerSecond)} | ${msv(l.p50)} ms | **${msv(l.p99)} ms** | ${msv(l.p999)} ms | ${msv(l.max)} ms | ` +
        `**${num(cpu.total)} µs** (${num(cpu.user)} + ${num(cpu.system)}) | ${x2(ratio(cpu.total, satUs))} | ${bus} | ${num(busy)} | ${rel} |`;
    };
    for (const s of le?.steps ?? []) {
      const cpu = { total: s.edgeUsPerDelivery, user: s.edgeUserUsPerDelivery, system: s.edgeSystemUsPerDelivery };
      L.push(stepRow('**Session Mesh** (2 edges)', s, cpu, r.push?.edge?.edgeUsPerDelivery, `${num(s.natsUsPerDelivery)} µs`, s.edgeCoresBusy, '1'));
    }
    for (const k of PEER_ORDER) {
      const p = r.latency?.[k];
      if (!p) {
        L.push(`| ${PEER_LABELS[k]} | ${missingText(r, `latency-${k}`)} | | | | | | | | | | |`);
        continue;
      }
      for (const s of p.steps) {
        const cpu = { total: s.serverUsPerDelivery, user: s.serverUserUsPerDelivery, system: s.serverSystemUsPerDelivery };
        const bus = Object.entries(s.supportUsPerDelivery ?? {}).map(([n, v]) => `${n} ${num(v)} µs`).join(', ') || '–';
        const e = edgeAt(s.offeredPerSecond);
        const rel = e ? `${x2(ratio(e.latencyMs?.p99, s.latencyMs?.p99))}, ${x2(ratio(e.edgeUsPerDelivery, s.serverUsPerDelivery))}` : 'n/a (edge not run at this rate)';
        L.push(stepRow(p.label ?? PEER_LABELS[k], s, cpu, r.push?.[k]?.serverUsPerDelivery, bus, s.serverCoresBusy, rel));
      }
    }
    L.push('');
    const satUs = r.push?.edge?.edgeUsPerDelivery;
    L.push(
      `"vs at saturation" divides by the same server's CPU per delivery in the targeted-push phase above (edges: ${num(satUs)} µs). ` +
        `Load average before the phases: edge ${phaseNote(r, 'latency-edge')}${latencyPeers.map((k) => `, ${PEER_SHORT[k]} ${phaseNote(r, `latency-${k}`)}`).join('')}. ` +
        (half
          ? `Saturation in this run: about ${int(saturation)} deliveries/s; at ${int(half.offeredPerSecond)}/s (the highest step at or below half of it) p99 was ${msv(half.latencyMs?.p99)} ms.`
          : 'No step ran at or below half of saturation.'),
      '',
    );
    if (r.push?.raw) {
      L.push(
        `Raw uWebSockets.js was not paced (its push endpoint sends as fast as it can); its ${num(r.push.raw.serverUsPerDelivery)} µs per delivery at saturation is the reference for the ratios in "Targets".`,
        '',
      );
    }
  }

  const be = r.broadcast?.edge;
  const br = r.broadcast?.raw;
  L.push('### Broadcast', '');
  const broadcastPeers = PEER_ORDER.filter((k) => r.broadcast?.[k]);
  if (!be && !br && !broadcastPeers.length) {
    L.push(`Not measured in this run: ${whyMissing(r, 'broadcast-edge')}.`, '');
  } else {
    const n = be?.sockets ?? br?.sockets ?? r.broadcast[broadcastPeers[0]]?.sockets;
    L.push(
      `${int(n)} sockets in one load-generator process. Session Mesh: two edges (half the sockets each) and nats-server; one NATS message on \`mesh.push.all\` reaches every welcomed socket of every edge. ` +
        'Raw uWebSockets.js: every socket subscribes to one topic and `app.publish` sends to all of them. ' +
        `First five single broadcasts (after one warm-up): "until the last socket" is the largest publish-to-receipt time over the ${int(n)} receipts (the payload carries the publish time), median of five. ` +
        `Then a burst of ${int(be?.burst?.publishes ?? br?.burst?.publishes ?? r.broadcast[broadcastPeers[0]]?.burst?.publishes)} broadcasts published at once: deliveries per second from the publish to the last delivery, and server CPU per delivery. ` +
        'Peers, same load generator and socket count: Socket.IO (2 processes) gets `emitter.emit` through Redis (every socket of the namespace); every Centrifugo socket is subscribed to one channel ' +
        '(its token\'s `channels` claim, a server-side subscription) and gets one publish to it, through the HTTP API (memory broker) or one NATS message (NATS broker).',
      '',
      '| server | single broadcast: until the last socket (median of 5) | worst of 5 | p50 socket | burst deliveries | deliveries/s | server CPU per delivery (user + system) | burst: last delivery after | edge / this: deliveries/s, last socket, CPU | load |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    let ecpu;
    const row = (label, x, cpu, phase) => {
      if (!x) return `| ${label} | ${missingText(r, phase)} | | | | | | | | |`;
      const runs = x.single.runs;
      const p50 = runs.map((s) => s.latencyMs?.p50).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
      const rel = x === be ? '1' : be ? `${x2(ratio(be.burst.deliveriesPerSecond, x.burst.deliveriesPerSecond))}, ${x2(ratio(be.single.lastSocketMsMedian, x.single.lastSocketMsMedian))}, ${x2(ratio(ecpu.total, cpu.total))}` : 'n/a';
      return `| ${label} | **${msv(x.single.lastSocketMsMedian)} ms** | ${msv(x.single.lastSocketMsMax)} ms | ${msv(p50)} ms | ${int(x.burst.delivered)} of ${int(x.burst.expected)} | **${int(x.burst.deliveriesPerSecond)}** | ${num(cpu.total)} µs (${num(cpu.user)} + ${num(cpu.system)}) | ${msv(x.burst.seconds * 1000)} ms | ${rel} | ${phaseNote(r, phase)} |`;
    };
    const sumCpu = (x, names) => {
      const d = x?.burst?.delivered;
      const f = (k) => names.reduce((a, nm) => a + (x.burst.cpu[nm]?.[k] ?? 0), 0);
      return x ? { total: f('cpuUs') / d, user: f('userUsPerDelivery'), system: f('systemUsPerDelivery') } : {};
    };
    ecpu = sumCpu(be, ['edgeA', 'edgeB']);
    const rcpu = sumCpu(br, ['server']);
    L.push(row('**Session Mesh** (2 edges + nats-server)', be, ecpu, 'broadcast-edge'));
    L.push(row('raw uWebSockets.js app.publish', br, rcpu, 'broadcast-raw'));
    for (const k of PEER_ORDER) {
      const p = r.broadcast?.[k];
      L.push(row(p?.label ?? PEER_LABELS[k], p, sumCpu(p, p?.servers ?? []), `broadcast-${k}`));
    }
    L.push('');
    const busNotes = broadcastPeers.map((k) => `${PEER_SHORT[k]}: ${Object.entries(r.broadcast[k].supportUsPerDelivery ?? {}).map(([n, v]) => `${n} ${num(v, 3)} µs`).join(', ') || 'none'} (publisher: ${r.broadcast[k].publisherKind})`);
    if (busNotes.length) L.push(`Bus/store CPU per delivery beside the peers' servers: ${busNotes.join('; ')}. Sockets still open after the phase: ${broadcastPeers.map((k) => `${PEER_SHORT[k]} ${int(r.broadcast[k].openAtEnd)}`).join(', ')}.`, '');
    if (be && br) {
      L.push(
        `**Edge / raw**: deliveries per second ${x2(ratio(be.burst.deliveriesPerSecond, br.burst.deliveriesPerSecond))} (${Math.round(100 * ratio(be.burst.deliveriesPerSecond, br.burst.deliveriesPerSecond))} % of raw), ` +
          `time until the last socket ${x2(ratio(be.single.lastSocketMsMedian, br.single.lastSocketMsMedian))}, server CPU per delivery ${x2(ratio(ecpu.total, rcpu.total))}. ` +
          `nats-server spent ${num(be.natsUsPerDelivery)} µs per delivery (one message per edge per broadcast). Sockets still open after the phase: edge ${int(be.openAtEnd)}, raw ${int(br.openAtEnd)}; edge outbound drops: ${int(be.edgeDrops)}.`,
        '',
      );
    }
    L.push(
      'Both runs share 2 cores with the load generator, which reads every socket in one epoll thread: for a broadcast it is the receiver, not the server, that sets the time until the last socket ' +
        `(it used ${num(be?.burst?.cpu?.loadgen?.usPerDelivery ?? br?.burst?.cpu?.loadgen?.usPerDelivery)} µs per delivery). The ratio edge / raw is the figure that carries over.`,
      '',
    );
  }
  return L;
}

const PEER_ORDER = ['socketio', 'centrifugo-memory', 'centrifugo-nats'];
const CHART_LABELS = { socketio: 'Socket.IO + Redis, 2 procs', 'centrifugo-memory': 'Centrifugo, memory broker', 'centrifugo-nats': 'Centrifugo, NATS broker' };
const PEER_LABELS = {
  socketio: 'Socket.IO 4.8 + Redis adapter (2 processes + redis-server)',
  'centrifugo-memory': 'Centrifugo v6.9.1, memory broker',
  'centrifugo-nats': 'Centrifugo v6.9.1, NATS broker',
};
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);
const x2 = (v) => (Number.isFinite(v) ? `${v > 0 && v < 0.1 ? v.toPrecision(2) : v.toFixed(2)}×` : 'n/a');
const loadOf = (r, phase) => {
  const l = r.loadAverages?.[phase];
  return l ? `${l.atStart[0]}${l.waitedS ? ` (waited ${l.waitedS} s)` : ''}` : 'n/a';
};

/** How long the peers' scenario phases took in this run (from phaseSeconds), or an estimate. */
function peerScenarioSeconds(r) {
  const secs = Object.entries(r.phaseSeconds ?? {}).filter(([p]) => /^(connect|latency|broadcast)-(socketio|centrifugo)/.test(p));
  if (!secs.length) return 'about 20 to 60 s each';
  return `${int(secs.reduce((a, [, v]) => a + v, 0))} s together in this run: ${secs.map(([p, v]) => `${p} ${v} s`).join(', ')}`;
}

const PEER_SHORT = { socketio: 'Socket.IO', 'centrifugo-memory': 'Centrifugo (memory)', 'centrifugo-nats': 'Centrifugo (NATS)' };

/** The cell for a phase without a result: NOT RUN (peer unavailable here) or not measured, with the reason. */
function missingText(r, phase) {
  const e = (r.errors ?? []).find((x) => x.phase === phase);
  return `${e?.unavailable ? 'NOT RUN' : 'not measured'}: ${whyMissing(r, phase)}`;
}

/** Why a phase produced nothing: its error in this run, else "not selected". */
function whyMissing(r, phase) {
  const e = (r.errors ?? []).find((x) => x.phase === phase);
  if (e) return e.error.split('\n')[0].slice(0, 400);
  return (r.config?.phases ?? []).includes(phase) ? 'no result' : 'phase not selected in this run (BENCH_PHASES)';
}

/** The peers section: same scenarios, same load generator, every figure as a ratio edge / peer. */
export function renderPeers(r) {
  const me = r.memory?.edge;
  const pe = r.push?.edge;
  const c = r.config;
  const L = ['### Peers in the same run', ''];
  L.push(
    'Each peer runs in its real topology on loopback, with fresh processes per phase, driven by the same Go load generator ' +
      `(\`bench/loadgen\`, with the peer's protocol adapter) with the same socket counts (${int(c.conns)} idle; ${int(c.pushUsersPerEdge * 2)} for pushes) and the same ${c.payloadBytes}-byte payloads ` +
      '(a JSON string carrying the publish time). Every ratio is **Session Mesh / peer**: below 1 means the edge uses less. ' +
      'The "load" column is the 1-minute load average read just before the phase started (the bench waits for it to drop below ' +
      `${r.loadAverages ? Object.values(r.loadAverages)[0]?.limit ?? 2 : 2}, for a bounded time, and measures anyway).`,
    '',
  );
  L.push('**Memory per idle authenticated connection** (server RSS growth after forced full GCs, all server processes of the peer together, divided by the connections):', '');
  L.push(
    '| peer | KiB/conn after GC | left alone | per server process (after GC) | bus/store beside it | edge / peer after GC | edge + NATS / peer + its store | load |',
    '| --- | ---: | ---: | --- | --- | ---: | ---: | ---: |',
  );
  const edgeMem = me?.kibPerConnection;
  const edgeMemAll = me ? me.kibPerConnection + (me.nats?.kibPerConnection ?? 0) : NaN;
  if (me) {
    L.push(
      `| **Session Mesh edge** (1 process) | **${num(edgeMem)}** | ${num(me.withoutForcedGc?.kibPerConnection)} | – | nats-server ${num(me.nats?.kibPerConnection)} KiB | 1 | 1 | ${loadOf(r, 'memory-edge')} |`,
    );
  }
  const notMeasured = [];
  for (const k of PEER_ORDER) {
    const m = r.memory?.[k];
    if (!m) {
      L.push(`| ${PEER_LABELS[k]} | not measured | | | | | | |`);
      notMeasured.push([`memory-${k}`, whyMissing(r, `memory-${k}`)]);
      continue;
    }
    const supportKiB = Object.values(m.support ?? {}).reduce((a, x) => a + x.kibPerConnection, 0);
    const support = Object.entries(m.support ?? {}).map(([n, x]) => `${n} ${num(x.kibPerConnection)} KiB`).join(', ') || 'none (in-process)';
    const perServer = m.servers.map((x) => `${x.name}: ${num(x.kibPerConnection)} (${int(x.connections)} conns)`).join('; ');
    L.push(
      `| ${m.label ?? PEER_LABELS[k]} | ${num(m.kibPerConnection)} | ${num(m.withoutForcedGc?.kibPerConnection)} | ${perServer} | ${support} | ` +
        `**${x2(ratio(edgeMem, m.kibPerConnection))}** | ${x2(ratio(edgeMemAll, m.kibPerConnection + supportKiB))} | ${loadOf(r, `memory-${k}`)} |`,
    );
  }
  L.push('');
  L.push(
    '**Targeted pushes at saturation** (one push to one random user; the publisher runs as fast as a window of ' +
      `${int(c.window)} pushes in flight allows for ${c.pushSeconds} s after a ${int(c.warmupPushes)}-push warm-up; CPU from \`/proc\` between the start of the measured run and the last delivery):`,
    '',
  );
  L.push(
    '| peer | publisher | deliveries/s | server CPU per delivery (user + system) | bus/store CPU per delivery | edge / peer (server CPU) | edge + NATS / peer + its bus | lost | load |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  const edgeCpu = pe?.edgeUsPerDelivery;
  const edgeCpuAll = pe ? pe.edgeUsPerDelivery + (pe.cpu?.nats?.usPerDelivery ?? 0) : NaN;
  if (pe) {
    L.push(
      `| **Session Mesh** (2 edges + nats-server) | Go, nats.go | ${int(pe.deliveriesPerSecond)} | **${num(edgeCpu)} µs** (${num(pe.edgeUserUsPerDelivery)} + ${num(pe.edgeSystemUsPerDelivery)}) | ` +
        `nats-server ${num(pe.cpu?.nats?.usPerDelivery)} µs | 1 | 1 | ${int(pe.lost)} | ${loadOf(r, 'push-edge')} |`,
    );
  }
  for (const k of PEER_ORDER) {
    const p = r.push?.[k];
    if (!p) {
      L.push(`| ${PEER_LABELS[k]} | | not measured | | | | | | |`);
      notMeasured.push([`push-${k}`, whyMissing(r, `push-${k}`)]);
      continue;
    }
    const support = Object.keys(p.cpu).filter((n) => !p.servers.includes(n) && n !== 'loadgen' && n !== 'publisher');
    const supportText = support.map((n) => `${n} ${num(p.cpu[n].usPerDelivery)} µs`).join(', ') || 'none (in-process)';
    L.push(
      `| ${p.label ?? PEER_LABELS[k]} | ${p.publisherKind} | ${int(p.deliveriesPerSecond)} | ${num(p.serverUsPerDelivery)} µs (${num(p.serverUserUsPerDelivery)} + ${num(p.serverSystemUsPerDelivery)}) | ` +
        `${supportText} | **${x2(ratio(edgeCpu, p.serverUsPerDelivery))}** | ${x2(ratio(edgeCpuAll, p.serverUsPerDelivery + p.supportUsPerDelivery))} | ${int(p.lost)}${p.drainComplete ? '' : ' (count stopped short)'} | ${loadOf(r, `push-${k}`)} |`,
    );
  }
  L.push('');
  const busy = PEER_ORDER.map((k) => [k, r.push?.[k]]).filter(([, p]) => p);
  if (busy.length) {
    L.push('Who kept the 2 cores busy during each peer\'s measured push window (cores; "other" = processes outside the bench):', '');
    L.push('| peer | server processes | bus/store | load generator | publisher | other |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [k, p] of busy) {
      const cores = p.cpuCoresBusy;
      const srv = p.servers.reduce((a, n) => a + (cores[n] ?? 0), 0);
      const sup = Object.keys(cores).filter((n) => !p.servers.includes(n) && n !== 'loadgen' && n !== 'publisher').reduce((a, n) => a + cores[n], 0);
      L.push(`| ${PEER_LABELS[k]} | ${num(srv)} | ${num(sup)} | ${num(cores.loadgen)} | ${num(cores.publisher)} | ${num(p.otherProcessesCoresBusy)} |`);
    }
    L.push('');
  }
  if (notMeasured.length) {
    L.push('**Not measured in this run:**', '');
    for (const [phase, why] of notMeasured) L.push(`- \`${phase}\`: ${why}`);
    L.push('');
  }
  L.push(
    'How each peer is set up (`bench/lib/peers.mjs`):',
    '',
    '- **Socket.IO** (`bench/peers/socketio/server.mjs`): two Node processes, `transports: [\'websocket\']`, no per-message deflate, `@socket.io/redis-adapter` on one Debian ' +
      '`redis-server` (no persistence). A namespace middleware verifies the same HS256 token (node:crypto) sent in the CONNECT packet (`40{"token":...}`) and joins the socket to the room ' +
      'of its user. The load generator speaks Engine.IO v4 / Socket.IO v5 framing (waits for the open packet, sends `40`, counts `42[...]` events, answers pings with `3`). ' +
      'Pushes: `@socket.io/redis-emitter` in a separate Node process, `emitter.to(<user>).emit(\'p\', data)`: a Redis PUBLISH that **every** server process receives and decodes ' +
      '(the adapter pattern-subscribes to all rooms), then delivers to its local sockets. Memory after GC: inspector `HeapProfiler.collectGarbage` in both processes.',
    '- **Centrifugo v6.9.1** (built with `go install`, cached by `scripts/install-centrifugo.sh`): one process, JSON protocol (connect command carrying the HS256 JWT), ' +
      'a server-side personal channel per user (`personal:#<user>`, `subscribe_to_user_personal_channel`). Memory broker: pushes through the HTTP server API, ' +
      '`/api/batch` with up to 500 publish commands per request (Centrifugo parses them; its CPU includes that). NATS broker: one nats-server, raw mode ' +
      '(`cf.personal.#<user>` subjects, payload delivered as it is), the same Go publisher as the edge\'s. "After GC" is RSS after `runtime.GC()` ' +
      '(`/debug/pprof/heap?gc=1` on the internal port); Go returns freed pages to the OS lazily, so it is close to "left alone".',
    '',
  );
  return L;
}

/** Writes docs/benchmarks.md and the charts (or into docsDir: the short mode's folder); returns the paths written. */
export function render(r, { root, docsDir }) {
  const docs = docsDir ?? join(root, 'docs');
  const img = join(docs, 'img');
  mkdirSync(img, { recursive: true });
  const memSvg = join(img, 'bench-memory.svg');
  const pushSvg = join(img, 'bench-push.svg');
  const me = r.memory?.edge;
  const mr = r.memory?.raw;
  const pe = r.push?.edge;
  const pr = r.push?.raw;
  writeFileSync(
    memSvg,
    barChart({
      title: `Server memory per idle WebSocket connection (${(r.config.conns ?? 0).toLocaleString('en-US')} connections)`,
      unit: 'KiB',
      bars: [
        { label: 'Session Mesh edge (this run, after GC)', value: me?.kibPerConnection ?? NaN, color: '#2e7d32' },
        { label: 'raw uWebSockets.js (this run, after GC)', value: mr?.kibPerConnection ?? NaN },
        ...PEER_ORDER.filter((k) => r.memory?.[k]).map((k) => ({ label: `${CHART_LABELS[k]} (this run)`, value: r.memory[k].kibPerConnection, color: '#c27c4a' })),
        ...(r.memory?.socketio
          ? []
          : [
              { label: 'Socket.IO 4.8 (earlier)', value: EARLIER.socketIo.kibPerConnection, color: '#999', digits: 1 },
              { label: 'Socket.IO + redis, 2 procs (earlier)', value: EARLIER.socketIoRedis.kibPerConnection[1], color: '#999', text: '12.5 to 14 KiB' },
            ]),
      ],
      // Issue 12's target: at most 2x raw uWebSockets.js of the same run.
      target: { value: 2 * (mr?.kibPerConnection ?? NaN), label: `target: 2× raw = ${num(2 * (mr?.kibPerConnection ?? NaN))} KiB` },
    }),
  );
  writeFileSync(
    pushSvg,
    barChart({
      title: `Server CPU per targeted push delivery (${r.config.payloadBytes}-byte payload)`,
      unit: 'µs',
      bars: [
        { label: 'Session Mesh edges, user (this run)', value: pe?.edgeUserUsPerDelivery ?? NaN, color: '#2e7d32' },
        { label: 'Session Mesh edges, user+system', value: pe?.edgeUsPerDelivery ?? NaN, color: '#66a86a' },
        { label: 'nats-server (this run)', value: pe?.cpu?.nats?.usPerDelivery ?? NaN, color: '#8e6bbf' },
        { label: 'raw uWS, user (this run)', value: pr?.serverUserUsPerDelivery ?? NaN },
        { label: 'raw uWS, user+system (this run)', value: pr?.serverUsPerDelivery ?? NaN, color: '#7f9fd6' },
        ...PEER_ORDER.filter((k) => r.push?.[k]).map((k) => ({ label: `${CHART_LABELS[k]}, user+system`, value: r.push[k].serverUsPerDelivery, color: '#c27c4a' })),
      ],
      // Issue 12's target: the edges at most 1.25x raw uWebSockets.js (user+system) of the same run.
      target: { value: 1.25 * (pr?.serverUsPerDelivery ?? NaN), label: `target: 1.25× raw = ${num(1.25 * (pr?.serverUsPerDelivery ?? NaN))} µs (edges)` },
    }),
  );
  const md = join(docs, 'benchmarks.md');
  const telemetryFile = join(root, 'bench/results/telemetry-overhead.json');
  const telemetry = existsSync(telemetryFile) ? JSON.parse(readFileSync(telemetryFile, 'utf8')) : undefined;
  const durableFile = join(root, 'bench/results/durable.json');
  const durable = existsSync(durableFile) ? JSON.parse(readFileSync(durableFile, 'utf8')) : undefined;
  const churnSvg = r.churn?.samples?.length ? join(img, 'bench-churn.svg') : undefined;
  if (churnSvg) writeFileSync(churnSvg, churnChart(r.churn));
  const svgPaths = { memory: relative(docs, memSvg), push: relative(docs, pushSvg), churn: churnSvg && relative(docs, churnSvg) };
  writeFileSync(md, renderMarkdown(r, { svgPaths, telemetry, durable }));
  return [md, memSvg, pushSvg, ...(churnSvg ? [churnSvg] : [])];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const file = resolve(process.argv[2] ?? join(root, 'bench/results/latest.json'));
  const written = render(JSON.parse(readFileSync(file, 'utf8')), { root });
  for (const f of written) process.stdout.write(`wrote ${f}\n`);
}
