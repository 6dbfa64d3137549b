// @ts-check
// Churn: VUS loops for DURATION, each iteration connecting one session, holding it for a random
// CHURN_HOLD_MIN_MS..CHURN_HOLD_MAX_MS and closing it. Each VU reuses one user (a new session per
// iteration), so at the end the registry must show none of them connected: teardown polls the
// admin API (GET /v1/users/{user}/connections) until PRESENCE_TIMEOUT_MS and counts the leftovers.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { commonThresholds, config, connectionCount, env, envDurationMs, envInt, newRunId, openSession, tokenFor, userId, welcomeThresholds } from './lib/mesh.js';

const vus = envInt('VUS', 50);
const holdMinMs = envInt('CHURN_HOLD_MIN_MS', 200);
const holdMaxMs = Math.max(holdMinMs, envInt('CHURN_HOLD_MAX_MS', 2000));
const presenceTimeoutMs = envInt('PRESENCE_TIMEOUT_MS', 10000);
const checkPresence = config.adminToken !== '';

const cycles = new Counter('churn_cycles');
const presenceLeftover = new Counter('presence_leftover');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    churn: { executor: 'constant-vus', vus, duration: `${envDurationMs('DURATION', '1m')}ms`, gracefulStop: '10s' },
  },
  thresholds: {
    ...commonThresholds({ publishes: false }),
    ...welcomeThresholds(),
    churn_cycles: [`count>=${env('MIN_CHURN_CYCLES', '1')}`],
    ...(checkPresence ? { presence_leftover: ['count<1'] } : {}),
  },
};

export function setup() {
  return { runId: newRunId() };
}

/** @param {{ runId: string }} data */
export default async function (data) {
  const user = userId(data.runId, 'churn', exec.vu.idInTest, 0);
  const session = `${user}-i${exec.vu.iterationInScenario}`;
  const token = await tokenFor(user, session);
  const holdMs = holdMinMs + Math.random() * (holdMaxMs - holdMinMs);
  /** @type {number | undefined} */
  let giveUp;
  const mesh = openSession({
    token,
    edge: exec.vu.idInTest + exec.vu.iterationInScenario,
    handlers: {
      onWelcome: (welcome) => {
        check(welcome, { 'welcome names our session': (w) => w.session === session });
        setTimeout(() => {
          cycles.add(1);
          mesh.close();
        }, holdMs);
      },
      onClose: () => {
        if (giveUp !== undefined) clearTimeout(giveUp);
      },
    },
  });
  // A connect that never gets its welcome must not hang the iteration.
  giveUp = setTimeout(() => mesh.close(), holdMaxMs + 10000);
}

/** @param {{ runId: string }} data */
export function teardown(data) {
  if (!checkPresence) return;
  /** @type {string[]} */
  let connected = [];
  for (let vu = 1; vu <= vus; vu++) connected.push(userId(data.runId, 'churn', vu, 0));
  const deadline = Date.now() + presenceTimeoutMs;
  for (;;) {
    connected = connected.filter((user) => connectionCount(user) > 0);
    if (connected.length === 0 || Date.now() > deadline) break;
    sleep(0.2);
  }
  presenceLeftover.add(connected.length);
  if (connected.length > 0) console.warn(`still connected after ${presenceTimeoutMs} ms: ${connected.join(', ')}`);
}
