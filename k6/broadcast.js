// @ts-check
// Broadcast: VUS receivers hold CONNECTIONS_PER_VU sessions each; after PUBLISH_DELAY one publisher
// VU sends BROADCAST_COUNT broadcasts (POST /v1/broadcast), one every BROADCAST_INTERVAL_MS, each
// carrying its send time. Every session should receive every broadcast: broadcast_latency is
// receipt minus send time (its max approaches "time until the last socket has it"),
// broadcast_delivered / broadcast_lost count deliveries against VUS * CONNECTIONS_PER_VU * sent.
//
// A broadcast reaches EVERY connection of the cluster, real users included: run this against a
// test cluster. Receivers ignore payloads of other runs (and anything that is not their JSON).
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { adminPost, commonThresholds, durationString, env, envDurationMs, envInt, newRunId, openSession, parseStamp, requireAdmin, tokenFor, userId } from './lib/mesh.js';

requireAdmin();
const vus = envInt('VUS', 20);
const connectionsPerVu = envInt('CONNECTIONS_PER_VU', 50);
const broadcastCount = envInt('BROADCAST_COUNT', 50);
const intervalMs = envInt('BROADCAST_INTERVAL_MS', 200);
const publishDelayMs = envDurationMs('PUBLISH_DELAY', '5s');
const drainMs = envInt('DRAIN_MS', 3000);

const sent = new Counter('broadcast_sent');
const delivered = new Counter('broadcast_delivered');
const lost = new Counter('broadcast_lost');
const loss = new Rate('broadcast_loss');
const latency = new Trend('broadcast_latency', true);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    receivers: {
      executor: 'per-vu-iterations',
      vus,
      iterations: 1,
      maxDuration: durationString(publishDelayMs + broadcastCount * intervalMs + drainMs + 30000),
    },
    publisher: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      exec: 'publish',
      startTime: durationString(publishDelayMs),
      maxDuration: durationString(broadcastCount * intervalMs + 30000),
    },
  },
  thresholds: {
    broadcast_latency: [`p(95)<${env('BROADCAST_P95_MS', '200')}`, `p(99)<${env('BROADCAST_P99_MS', '500')}`],
    broadcast_loss: [`rate<${env('MAX_BROADCAST_LOSS_RATE', '0.001')}`],
    broadcast_sent: [`count==${broadcastCount}`],
    ...commonThresholds({ publishes: true }),
  },
};

export function setup() {
  return { runId: newRunId() };
}

/** Receivers: connect, then count every broadcast of this run until all arrived or the drain time ends. @param {{ runId: string }} data */
export default async function (data) {
  const vu = exec.vu.idInTest;
  const firstBroadcastAt = exec.scenario.startTime + publishDelayMs;
  const deadline = firstBroadcastAt + broadcastCount * intervalMs + drainMs;
  /** @type {Array<{ seen: Set<number>, readyBeforeFirst: boolean, close: () => void }>} */
  const receivers = [];
  let complete = 0;
  /** @type {() => void} */
  let allDone = () => {};
  const done = new Promise((resolve) => (allDone = () => resolve(undefined)));

  for (let i = 0; i < connectionsPerVu; i++) {
    const user = userId(data.runId, 'bcast', vu, i);
    const token = await tokenFor(user, `${user}-s`);
    const receiver = { seen: new Set(), readyBeforeFirst: false, close: () => {} };
    const mesh = openSession({
      token,
      edge: vu + i,
      handlers: {
        onWelcome: () => (receiver.readyBeforeFirst = Date.now() < firstBroadcastAt),
        onPush: (payload, receivedAt) => {
          const stamp = parseStamp(payload);
          if (stamp === undefined || stamp.run !== data.runId || receiver.seen.has(stamp.seq)) return;
          receiver.seen.add(stamp.seq);
          latency.add(receivedAt - stamp.sentAt);
          delivered.add(1);
          if (receiver.seen.size === broadcastCount && ++complete === connectionsPerVu) allDone();
        },
      },
    });
    receiver.close = () => mesh.close();
    receivers.push(receiver);
  }

  const timer = setTimeout(allDone, Math.max(0, deadline - Date.now()));
  await done;
  clearTimeout(timer);
  for (const r of receivers) {
    check(r, { 'connected before the first broadcast': (x) => x.readyBeforeFirst });
    const missing = broadcastCount - r.seen.size;
    lost.add(missing);
    for (let s = 0; s < r.seen.size; s++) loss.add(false);
    for (let m = 0; m < missing; m++) loss.add(true);
    r.close();
  }
}

/** The publisher: BROADCAST_COUNT stamped broadcasts, one every BROADCAST_INTERVAL_MS. @param {{ runId: string }} data */
export async function publish(data) {
  const started = Date.now();
  for (let seq = 1; seq <= broadcastCount; seq++) {
    const wait = started + (seq - 1) * intervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const res = await adminPost('/v1/broadcast', JSON.stringify({ run: data.runId, seq, sentAt: Date.now() }));
    if (res.status === 202) sent.add(1);
  }
}
