#!/usr/bin/env node
// A stand-in for `k6 run`, for CI only. k6 itself cannot be used on our CI machines (AGPL, not
// served), so this runs OUR k6 scripts with the small part of the k6 API they use; it is not k6
// and measures nothing k6 would not. Usage:
//
//   node k6/standin/run.mjs [-e KEY=VALUE]... [--summary-json FILE] SCRIPT.js
//
// Every VU is a worker thread with its own module instance (as k6 gives each VU its own runtime).
// Scenarios: constant-vus, per-vu-iterations, shared-iterations (with startTime, gracefulStop,
// maxDuration, exec, env); or top-level vus + duration / iterations. Thresholds are evaluated at
// the end. Exit codes follow k6: 0 passed, 99 thresholds crossed, 104 invalid options,
// 107 script error (the script did not load, setup/teardown threw), 108 test aborted.
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve as resolvePath } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { MetricsStore } from './metrics-store.mjs';
import { evaluateThreshold, parseThresholds } from './thresholds.mjs';
import { formatSummary } from './summary.mjs';

const EXIT = { thresholds: 99, options: 104, script: 107, aborted: 108 };

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { env: { type: 'string', short: 'e', multiple: true }, 'summary-json': { type: 'string' } },
});
if (positionals.length !== 1) {
  process.stderr.write('usage: node k6/standin/run.mjs [-e KEY=VALUE]... [--summary-json FILE] SCRIPT.js\n');
  process.exit(2);
}
const scriptPath = resolvePath(positionals[0]);
const scriptUrl = pathToFileURL(scriptPath).href;
const baseEnv = { ...process.env };
for (const pair of flags.env ?? []) {
  const at = pair.indexOf('=');
  if (at < 1) fatal(EXIT.options, `-e expects KEY=VALUE, got ${pair}`);
  baseEnv[pair.slice(0, at)] = pair.slice(at + 1);
}

const store = new MetricsStore();
const errors = [];
let aborted;
let iterationsInterrupted = 0;

/** @param {number} code @param {string} message @returns {never} */
function fatal(code, message) {
  process.stderr.write(`k6 stand-in: ${message}\n`);
  process.exit(code);
}

/** Parses k6 durations: '500ms', '30s', '1m30s', '2h', or a number of milliseconds. */
export function parseDuration(value, what) {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) fatal(EXIT.options, `${what}: invalid duration ${JSON.stringify(value)}`);
  let ms = 0;
  for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit];
  return ms;
}

/**
 * @typedef {{ idInTest: number, scenario: string, executor: string, scenarioStartTime: number, env: Record<string, string | undefined> }} VuInfo
 * @typedef {{ worker: Worker, vu: VuInfo, alive: boolean, onAnswer: ((msg: any) => void) | undefined }} VuHandle
 */

/**
 * Starts one VU thread; resolves once its init code ran.
 * @param {VuInfo} vu
 * @returns {Promise<{ handle: VuHandle, options: any, exportNames: string[] }>}
 */
function startVu(vu, wantOptions = false) {
  const worker = new Worker(new URL('./vu-worker.mjs', import.meta.url), { workerData: { scriptUrl, vu, wantOptions } });
  /** @type {VuHandle} */
  const handle = { worker, vu, alive: true, onAnswer: undefined };
  worker.on('message', (msg) => {
    switch (msg.type) {
      case 'metric':
        try {
          store.declare(msg.name, msg.kind, msg.isTime);
        } catch (err) {
          errors.push(err instanceof Error ? err.message : String(err));
        }
        break;
      case 'samples':
        for (const [name, value] of msg.batch) store.add(name, value);
        break;
      case 'abort':
        aborted ??= msg.reason;
        break;
      default:
        handle.onAnswer?.(msg);
    }
  });
  worker.on('error', (err) => {
    errors.push(`VU ${vu.idInTest} crashed: ${err.stack ?? err.message}`);
    handle.alive = false;
    handle.onAnswer?.({ type: 'crashed', error: err.message });
  });
  worker.on('exit', () => {
    handle.alive = false;
    handle.onAnswer?.({ type: 'crashed', error: 'worker exited' });
  });
  return new Promise((resolve, reject) => {
    handle.onAnswer = (msg) => {
      handle.onAnswer = undefined;
      if (msg.type === 'ready') resolve({ handle, options: msg.options, exportNames: msg.exportNames });
      else reject(new Error(msg.error));
    };
  });
}

/** Sends one request to a VU and waits for its answer (or `deadline`, then the VU is terminated). */
function ask(handle, message, deadline = Infinity) {
  return new Promise((resolve) => {
    let timer;
    handle.onAnswer = (msg) => {
      clearTimeout(timer);
      handle.onAnswer = undefined;
      resolve(msg);
    };
    if (Number.isFinite(deadline)) {
      timer = setTimeout(() => {
        handle.onAnswer = undefined;
        handle.alive = false;
        void handle.worker.terminate();
        resolve({ type: 'interrupted' });
      }, Math.max(0, deadline - Date.now()));
    }
    handle.worker.postMessage(message);
  });
}

function scenariosFrom(options) {
  if (options.scenarios && Object.keys(options.scenarios).length > 0) return options.scenarios;
  if (options.duration !== undefined) return { default: { executor: 'constant-vus', vus: options.vus ?? 1, duration: options.duration } };
  return { default: { executor: 'shared-iterations', vus: options.vus ?? 1, iterations: options.iterations ?? 1 } };
}

/** Checks a scenario and returns when each of its VUs stops starting iterations, and its hard stop. */
function planScenario(name, s, exportNames) {
  const exec = s.exec ?? 'default';
  if (!exportNames.includes(exec)) fatal(EXIT.options, `scenario ${name}: the script exports no function '${exec}'`);
  const vus = s.vus ?? 1;
  if (!Number.isInteger(vus) || vus < 1) fatal(EXIT.options, `scenario ${name}: vus must be a positive integer`);
  const startMs = s.startTime === undefined ? 0 : parseDuration(s.startTime, `scenario ${name} startTime`);
  const gracefulStopMs = s.gracefulStop === undefined ? 30_000 : parseDuration(s.gracefulStop, `scenario ${name} gracefulStop`);
  switch (s.executor) {
    case 'constant-vus':
      return { name, exec, vus, startMs, gracefulStopMs, executor: s.executor, env: s.env ?? {}, runMs: parseDuration(s.duration, `scenario ${name} duration`), iterationsPerVu: Infinity, sharedIterations: undefined };
    case 'per-vu-iterations':
      return { name, exec, vus, startMs, gracefulStopMs, executor: s.executor, env: s.env ?? {}, runMs: parseDuration(s.maxDuration ?? '10m', `scenario ${name} maxDuration`), iterationsPerVu: s.iterations ?? 1, sharedIterations: undefined };
    case 'shared-iterations':
      return { name, exec, vus, startMs, gracefulStopMs, executor: s.executor, env: s.env ?? {}, runMs: parseDuration(s.maxDuration ?? '10m', `scenario ${name} maxDuration`), iterationsPerVu: Infinity, sharedIterations: { left: s.iterations ?? 1 } };
    default:
      fatal(EXIT.options, `scenario ${name}: executor '${s.executor}' is not supported by the k6 stand-in (constant-vus, per-vu-iterations, shared-iterations)`);
  }
}

async function runVuLoop(handle, plan, testStart) {
  const begin = testStart + plan.startMs;
  const stopStarting = begin + plan.runMs;
  const hardStop = stopStarting + plan.gracefulStopMs;
  if (Date.now() < begin) await new Promise((r) => setTimeout(r, begin - Date.now()));
  handle.vu.scenarioStartTime = begin;
  let iteration = 0;
  while (handle.alive && !aborted && Date.now() < stopStarting && iteration < plan.iterationsPerVu) {
    if (plan.sharedIterations) {
      if (plan.sharedIterations.left <= 0) break;
      plan.sharedIterations.left--;
    }
    const answer = await ask(handle, { type: 'iterate', exec: plan.exec, iterationInScenario: iteration, scenarioStartTime: begin }, hardStop);
    iteration++;
    if (answer.type === 'interrupted' || answer.type === 'crashed') {
      iterationsInterrupted++;
      break;
    }
    store.add('iterations', 1);
    store.add('iteration_duration', answer.durationMs);
    if (answer.error) errors.push(`scenario ${plan.name}, VU ${handle.vu.idInTest}, iteration ${iteration - 1}: ${answer.error}`);
  }
  if (handle.alive) await handle.worker.terminate();
}

async function main() {
  store.declare('iterations', 'counter', false);
  store.declare('iteration_duration', 'trend', true);

  // VU 0 loads the script first: its options, and later setup() and teardown().
  let first;
  try {
    first = await startVu({ idInTest: 0, scenario: '', executor: '', scenarioStartTime: 0, env: baseEnv }, true);
  } catch (err) {
    fatal(EXIT.script, `the script did not load: ${err instanceof Error ? err.message : String(err)}`);
  }
  const options = first.options ?? {};
  let thresholds;
  try {
    thresholds = parseThresholds(options.thresholds);
  } catch (err) {
    fatal(EXIT.options, err instanceof Error ? err.message : String(err));
  }
  const plans = Object.entries(scenariosFrom(options)).map(([name, s]) => planScenario(name, s, first.exportNames));

  let data;
  if (first.exportNames.includes('setup')) {
    const answer = await ask(first.handle, { type: 'call', name: 'setup' });
    if (answer.error) fatal(EXIT.script, `setup() failed: ${answer.error}`);
    data = answer.value;
  }

  // Every VU is initialised before the clock starts, as k6 does.
  let nextId = 1;
  const vus = [];
  for (const plan of plans) {
    for (let i = 0; i < plan.vus; i++) {
      const vu = { idInTest: nextId++, scenario: plan.name, executor: plan.executor, scenarioStartTime: 0, env: { ...baseEnv, ...plan.env } };
      vus.push(startVu(vu).then(({ handle }) => ({ handle, plan })));
    }
  }
  let started;
  try {
    started = await Promise.all(vus);
  } catch (err) {
    fatal(EXIT.script, `a VU did not initialise: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const { handle } of started) handle.worker.postMessage({ type: 'start', data });

  const testStart = Date.now();
  await Promise.all(started.map(({ handle, plan }) => runVuLoop(handle, plan, testStart)));
  const durationS = (Date.now() - testStart) / 1000;

  if (first.exportNames.includes('teardown')) {
    const answer = await ask(first.handle, { type: 'call', name: 'teardown', data });
    if (answer.error) errors.push(`teardown() failed: ${answer.error}`);
  }
  await first.handle.worker.terminate();

  const results = thresholds.map((t) => ({ ...t, ...evaluateThreshold(t, store, durationS) }));
  // Like k6, list only metrics that received samples (and every metric a threshold names).
  const metrics = Object.fromEntries(
    [...store.metrics.entries()]
      .filter(([name, m]) => m.count > 0 || thresholds.some((t) => t.metric === name))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, m]) => {
        const { sorted: _sorted, ...values } = /** @type {Record<string, unknown>} */ (store.values(name, durationS));
        return [name, { type: m.kind, isTime: m.isTime, values }];
      }),
  );
  const summary = {
    script: positionals[0],
    durationS,
    metrics,
    thresholds: results.map(({ metric, source, ok, actual, reason }) => ({ metric, threshold: source, ok, actual: actual ?? null, ...(reason ? { reason } : {}) })),
    thresholdsPassed: results.every((r) => r.ok),
    iterationsInterrupted,
    errors,
    aborted: aborted ?? null,
  };
  process.stdout.write(formatSummary(summary));
  if (flags['summary-json']) writeFileSync(flags['summary-json'], JSON.stringify(summary, null, 2));
  if (aborted) process.exit(EXIT.aborted);
  if (!summary.thresholdsPassed) process.exit(EXIT.thresholds);
  process.exit(0);
}

await main();
