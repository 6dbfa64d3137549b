// @ts-check
// Resume after reconnect with durable pushes (docs/delivery.md; the wire format in
// lib/durable-protocol.js follows docs/protocol.md section 6).
//
// Every iteration of a VU: connect with a fixed client id and receive LIVE_BEFORE durable pushes;
// close; while away, publish MISSED durable pushes; reconnect with the last position and expect
// exactly the missed ones replayed, in order, without duplicates, with `recovered: true`; then
// LIVE_AFTER more live pushes must follow with no gap or duplicate at the seam.
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { DURABLE_STORED, parseDurablePush, publishDurable, resumeQuery } from './lib/durable-protocol.js';
import { commonThresholds, env, envDurationMs, envInt, newRunId, openSession, parseStamp, requireAdmin, tokenFor, userId } from './lib/mesh.js';

requireAdmin();
const vus = envInt('VUS', 10);
const liveBefore = envInt('LIVE_BEFORE', 5);
const missedCount = envInt('MISSED', 20);
const liveAfter = envInt('LIVE_AFTER', 5);
const waitMs = envInt('RESUME_TIMEOUT_MS', 10000);

const recovered = new Rate('resume_recovered');
const missing = new Counter('resume_missing');
const duplicates = new Counter('resume_duplicates');
const outOfOrder = new Counter('resume_out_of_order');
const replayTime = new Trend('resume_replay_time', true);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    resume: { executor: 'constant-vus', vus, duration: `${envDurationMs('DURATION', '1m')}ms`, gracefulStop: '30s' },
  },
  thresholds: {
    resume_recovered: ['rate>0.99'],
    resume_missing: ['count<1'],
    resume_duplicates: ['count<1'],
    resume_out_of_order: ['count<1'],
    resume_replay_time: [`p(95)<${env('REPLAY_P95_MS', '500')}`, `p(99)<${env('REPLAY_P99_MS', '1000')}`],
    ...commonThresholds({ publishes: true }),
  },
};

export function setup() {
  return { runId: newRunId() };
}

/**
 * One connection that records durable pushes of this run (seq numbers in arrival order).
 * @param {{ runId: string, user: string, session: string, client: string, edge: number, query?: Record<string, string> }} o
 */
async function connect(o) {
  const token = await tokenFor(o.user, o.session);
  /** @type {number[]} */
  const seqs = [];
  let lastPosition = 0;
  let lastArrival = 0;
  /** @type {Record<string, unknown> | undefined} */
  let welcome;
  const mesh = openSession({
    token,
    edge: o.edge,
    client: o.client,
    ...(o.query ? { query: o.query } : {}),
    handlers: {
      onWelcome: (w) => (welcome = w),
      onBinary: (frame, receivedAt) => {
        const push = parseDurablePush(frame);
        const stamp = push && parseStamp(push.payload);
        if (!push || !stamp || stamp.run !== o.runId) return;
        lastPosition = push.position;
        lastArrival = receivedAt;
        seqs.push(stamp.seq);
      },
    },
  });
  return { mesh, seqs, welcome: () => welcome, lastPosition: () => lastPosition, lastArrival: () => lastArrival };
}

/** Resolves when `condition` holds or after `timeoutMs`. @param {() => boolean} condition @param {number} timeoutMs */
function until(condition, timeoutMs) {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    /** @type {number | undefined} */
    let timer;
    const poll = () => {
      if (condition() || Date.now() > deadline) {
        if (timer !== undefined) clearTimeout(timer);
        resolve(undefined);
      } else {
        timer = setTimeout(poll, 10);
      }
    };
    poll();
  });
}

/** @param {{ runId: string }} data */
export default async function (data) {
  const vu = exec.vu.idInTest;
  const iteration = exec.vu.iterationInScenario;
  const user = userId(data.runId, 'resume', vu, iteration);
  const session = `${user}-s`;
  const client = `${user}-tab`;
  let seq = 0;
  const publish = async () => {
    seq += 1;
    const res = await publishDurable(user, session, JSON.stringify({ run: data.runId, seq, sentAt: Date.now() }));
    return res.status === DURABLE_STORED;
  };

  // 1. Live, then away.
  const first = await connect({ runId: data.runId, user, session, client, edge: vu });
  await until(() => first.welcome() !== undefined, waitMs);
  for (let i = 0; i < liveBefore; i++) await publish();
  await until(() => first.seqs.length >= liveBefore, waitMs);
  const epoch = String(first.welcome()?.['epoch'] ?? '');
  check(first, { 'welcome carries an epoch': () => epoch !== '', 'live pushes arrived before the break': (c) => c.seqs.length === liveBefore });
  const resumeFrom = first.lastPosition();
  first.mesh.close();

  // 2. Missed while away.
  const missedFrom = seq + 1;
  for (let i = 0; i < missedCount; i++) await publish();
  const missedTo = seq;

  // 3. Back, on another edge when there are several: the replay, then live pushes after the seam.
  const reconnectAt = Date.now();
  const second = await connect({ runId: data.runId, user, session, client, edge: vu + 1, query: resumeQuery(epoch, resumeFrom) });
  await until(() => second.seqs.length >= missedCount, waitMs);
  if (second.seqs.length >= missedCount) replayTime.add(second.lastArrival() - reconnectAt);
  recovered.add(second.welcome()?.['recovered'] === true);
  for (let i = 0; i < liveAfter; i++) await publish();
  await until(() => second.seqs.length >= missedCount + liveAfter, waitMs);
  second.mesh.close();

  // Exactly missedFrom..seq, once each, in order.
  const seen = new Set();
  let previous = missedFrom - 1;
  for (const s of second.seqs) {
    if (seen.has(s)) duplicates.add(1);
    else if (s !== previous + 1) outOfOrder.add(1);
    seen.add(s);
    previous = Math.max(previous, s);
  }
  let absent = 0;
  for (let s = missedFrom; s <= seq; s++) if (!seen.has(s)) absent++;
  missing.add(absent);
  check(second, { 'replay covers exactly the missed range': () => absent === 0 && missedTo - missedFrom + 1 === missedCount });
}
