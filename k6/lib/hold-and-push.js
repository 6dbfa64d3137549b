// @ts-check
// One VU's work in soak.js and targeted-push.js: open `connections` sessions (each its own user and
// session), hold them for `holdMs`, and every `pushIntervalMs` publish one timestamped push through
// the admin API to the next session in turn. At the end, wait up to `drainMs` for pushes in flight,
// count the rest as lost, and close every session. Returns when all of that is done (k6 ends the
// iteration when no socket and no timer is left).
import { check } from 'k6';
import exec from 'k6/execution';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { commonThresholds, createPushTracker, durationString, env, envDurationMs, envInt, newRunId, openSession, pushToSession, requireAdmin, tokenFor, userId } from './mesh.js';

/**
 * Options, setup and VU function of a hold-and-push script, from its defaults; every default can be
 * overridden by the environment variable of the same name.
 * @param {{ role: string, VUS: number, DURATION: string, CONNECT_SPREAD: string, CONNECTIONS_PER_VU: number, intervalVariable: string, interval: number, PUSH_P95_MS: number, PUSH_P99_MS: number, thresholds?: Record<string, string[]> }} d
 */
export function holdAndPushScript(d) {
  requireAdmin();
  const holdMs = envDurationMs('DURATION', d.DURATION);
  const connectSpreadMs = envDurationMs('CONNECT_SPREAD', d.CONNECT_SPREAD);
  const drainMs = envInt('DRAIN_MS', 2000);
  /** @type {import('k6/options').Options} */
  const options = {
    scenarios: {
      [d.role]: {
        executor: 'per-vu-iterations',
        vus: envInt('VUS', d.VUS),
        iterations: 1,
        maxDuration: durationString(connectSpreadMs + holdMs + drainMs + 60000),
      },
    },
    thresholds: {
      push_latency: [`p(95)<${env('PUSH_P95_MS', String(d.PUSH_P95_MS))}`, `p(99)<${env('PUSH_P99_MS', String(d.PUSH_P99_MS))}`],
      push_loss: [`rate<${env('MAX_PUSH_LOSS_RATE', '0.001')}`],
      ...commonThresholds({ publishes: true }),
      ...(d.thresholds ?? {}),
    },
  };
  return {
    options,
    setup: () => ({ runId: newRunId() }),
    /** @param {{ runId: string }} data */
    run: (data) =>
      holdAndPush({
        runId: data.runId,
        role: d.role,
        vu: exec.vu.idInTest,
        connections: envInt('CONNECTIONS_PER_VU', d.CONNECTIONS_PER_VU),
        connectSpreadMs,
        holdMs,
        pushIntervalMs: envInt(d.intervalVariable, d.interval),
        drainMs,
      }),
  };
}

/**
 * @param {{ runId: string, role: string, vu: number, connections: number, connectSpreadMs: number, holdMs: number, pushIntervalMs: number, drainMs: number }} plan
 */
export async function holdAndPush(plan) {
  const tracker = createPushTracker(plan.runId);
  /** @type {Array<{ user: string, session: string, mesh: import('./mesh.js').MeshSession }>} */
  const sessions = [];
  const started = Date.now();

  for (let i = 0; i < plan.connections; i++) {
    const user = userId(plan.runId, plan.role, plan.vu, i);
    const session = `${user}-s`;
    const token = await tokenFor(user, session);
    const mesh = openSession({
      token,
      edge: plan.vu + i,
      handlers: {
        onWelcome: (welcome) => check(welcome, { 'welcome names our user': (w) => w.user === user }),
        onPush: (payload, receivedAt) => tracker.received(payload, receivedAt),
      },
    });
    sessions.push({ user, session, mesh });
    // Spread the connects over connectSpreadMs instead of opening them all at once.
    if (plan.connectSpreadMs > 0 && i + 1 < plan.connections) await pause(plan.connectSpreadMs / plan.connections);
  }

  let turn = 0;
  const pusher = plan.pushIntervalMs > 0
    ? setInterval(() => {
        const target = sessions[turn++ % sessions.length];
        if (!target || !target.mesh.welcomed() || target.mesh.ws.readyState !== target.mesh.ws.OPEN) return;
        const { seq, body } = tracker.next();
        pushToSession(target.user, target.session, body).then((res) => tracker.published(seq, res.status));
      }, plan.pushIntervalMs)
    : undefined;

  await pause(Math.max(0, started + plan.holdMs - Date.now()));
  if (pusher !== undefined) clearInterval(pusher);
  const drainUntil = Date.now() + plan.drainMs;
  while (tracker.inFlight() > 0 && Date.now() < drainUntil) await pause(20);
  tracker.finish();
  check(sessions, { 'every session still open at the end': (all) => all.every((s) => s.mesh.ws.readyState === s.mesh.ws.OPEN) });
  for (const s of sessions) s.mesh.close();
}

/** @param {number} ms */
function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
