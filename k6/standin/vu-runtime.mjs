// State of the one VU that lives in this worker thread, shared by the stand-in's k6 modules.
//
// k6 ends an iteration when the VU's event loop is empty: the default function has returned (or its
// promise settled) AND no socket is open, no timer is pending and no async request is in flight.
// The modules below report such work with `hold()`; `whenIdle()` resolves when none is left.
// An exception thrown in a callback ends the iteration with that error, as in k6.
import { parentPort, workerData } from 'node:worker_threads';

/** @typedef {{ idInTest: number, scenario: string, executor: string, scenarioStartTime: number, env: Record<string, string> }} VuInfo */

/** @type {VuInfo} */
export const vuInfo = workerData?.vu ?? { idInTest: 0, scenario: '', executor: '', scenarioStartTime: 0, env: {} };

export const counters = { iterationInScenario: -1, iterationInInstance: -1 };

let pending = 0;
/** @type {Array<() => void>} */
let idleWaiters = [];
/** @type {Error | undefined} */
let iterationError;
/** @type {Map<() => void, () => void>} cancel -> release */
const cancellers = new Map();

/**
 * Marks one unit of pending work (socket, timer, request). Returns the function that releases it;
 * `cancel` is called if the iteration ends with an error while the work is still pending.
 * @param {() => void} [cancel]
 */
export function hold(cancel) {
  pending++;
  let released = false;
  const entry = cancel ?? (() => {});
  const release = () => {
    if (released) return;
    released = true;
    cancellers.delete(entry);
    pending--;
    if (pending === 0) notifyIdle();
  };
  cancellers.set(entry, release);
  return release;
}

function notifyIdle() {
  const waiters = idleWaiters;
  idleWaiters = [];
  for (const w of waiters) w();
}

/** Resolves when no work is pending (or an error ended the iteration). */
export function whenIdle() {
  if (pending === 0 || iterationError) return Promise.resolve();
  return new Promise((resolve) => idleWaiters.push(() => resolve(undefined)));
}

/** Ends the iteration with `error`: pending work is cancelled (sockets closed, timers cleared). */
export function failIteration(error) {
  if (!iterationError) iterationError = error instanceof Error ? error : new Error(String(error));
  for (const [cancel, release] of [...cancellers]) {
    try {
      cancel();
    } catch {
      // cancelling is best effort: the socket or timer may already be gone
    }
    release();
  }
  notifyIdle();
}

/** Runs a script callback; an exception ends the iteration as it would in k6. */
export function invokeCallback(fn, ...args) {
  try {
    const result = fn(...args);
    if (result && typeof result.then === 'function') result.then(undefined, failIteration);
  } catch (err) {
    failIteration(err);
  }
}

/** Takes the error that ended the iteration (if any) and resets it for the next one. */
export function takeIterationError() {
  const err = iterationError;
  iterationError = undefined;
  return err;
}

// Samples travel to the main thread in batches; flushed before blocking (sleep, sync HTTP) and
// before an iteration reports that it is done, so the main thread has them in order.
/** @type {Array<[string, number]>} */
let batch = [];
let flushScheduled = false;

/** @param {string} name @param {'counter'|'gauge'|'rate'|'trend'} kind @param {boolean} isTime */
export function declareMetric(name, kind, isTime) {
  parentPort?.postMessage({ type: 'metric', name, kind, isTime });
}

/** @param {string} name @param {number} value */
export function addSample(name, value) {
  batch.push([name, value]);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushSamples);
  }
}

export function flushSamples() {
  flushScheduled = false;
  if (batch.length === 0) return;
  parentPort?.postMessage({ type: 'samples', batch });
  batch = [];
}

/** Blocks this VU's thread (and only it), like k6's sleep blocks its VU. */
export function blockFor(ms) {
  flushSamples();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, ms));
}

export function requestAbort(reason) {
  flushSamples();
  parentPort?.postMessage({ type: 'abort', reason });
}

export function pendingNow() {
  return pending;
}
