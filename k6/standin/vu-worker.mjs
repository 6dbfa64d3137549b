// One k6 VU in its own thread (k6 gives every VU its own JavaScript runtime): loads the script (its
// init code runs here), then runs what the main thread asks: iterations of a scenario function,
// setup or teardown. Each answer is sent after the VU's event loop is empty (see vu-runtime.mjs).
import { register } from 'node:module';
import { parentPort as maybeParentPort, workerData } from 'node:worker_threads';
import { counters, failIteration, flushSamples, pendingNow, takeIterationError, vuInfo, whenIdle } from './vu-runtime.mjs';

if (!maybeParentPort) throw new Error('vu-worker.mjs runs as a worker thread of run.mjs');
const parentPort = maybeParentPort;
register('./hooks.mjs', import.meta.url);
globalThis.__ENV = workerData.vu.env;
globalThis.__VU = workerData.vu.idInTest;
globalThis.__ITER = 0;

process.on('uncaughtException', failIteration);
process.on('unhandledRejection', failIteration);

function describe(err) {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

async function settle(fn, arg) {
  let value;
  try {
    value = await fn(arg);
  } catch (err) {
    failIteration(err);
  }
  for (;;) {
    await whenIdle();
    // Let callbacks queued by the last release (a response handler, a close handler) run first.
    await new Promise((resolve) => setImmediate(resolve));
    if (pendingNow() === 0) break;
  }
  flushSamples();
  const error = takeIterationError();
  return { value, error: error ? describe(error) : undefined };
}

let script;
try {
  script = await import(workerData.scriptUrl);
} catch (err) {
  parentPort.postMessage({ type: 'init-failed', error: describe(err) });
  process.exit(1);
}
flushSamples();
parentPort.postMessage({
  type: 'ready',
  options: workerData.wantOptions ? JSON.parse(JSON.stringify(script.options ?? {})) : undefined,
  exportNames: Object.keys(script).filter((k) => typeof script[k] === 'function'),
});

let setupData;
parentPort.on('message', async (msg) => {
  if (msg.type === 'call') {
    const fn = script[msg.name];
    const { value, error } = await settle(fn, msg.data);
    parentPort.postMessage({ type: 'result', value: value === undefined ? undefined : JSON.parse(JSON.stringify(value)), error });
  } else if (msg.type === 'start') {
    setupData = msg.data;
  } else if (msg.type === 'iterate') {
    counters.iterationInScenario = msg.iterationInScenario;
    vuInfo.scenarioStartTime = msg.scenarioStartTime;
    counters.iterationInInstance += 1;
    globalThis.__ITER = counters.iterationInInstance;
    const fn = script[msg.exec];
    const started = performance.now();
    const { error } = await settle(fn, setupData);
    parentPort.postMessage({ type: 'done', error, durationMs: performance.now() - started });
  }
});
