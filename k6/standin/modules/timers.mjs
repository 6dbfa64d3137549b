// k6/timers: timers that keep the VU's iteration alive until they fire or are cleared.
import { hold, invokeCallback } from '../vu-runtime.mjs';

const releases = new Map();

export function setTimeout(fn, delay, ...args) {
  let id;
  const release = hold(() => globalThis.clearTimeout(id));
  id = globalThis.setTimeout(() => {
    releases.delete(id);
    try {
      invokeCallback(fn, ...args);
    } finally {
      release();
    }
  }, delay);
  releases.set(id, release);
  return id;
}

export function clearTimeout(id) {
  globalThis.clearTimeout(id);
  releases.get(id)?.();
  releases.delete(id);
}

export function setInterval(fn, delay, ...args) {
  let id;
  const release = hold(() => globalThis.clearInterval(id));
  id = globalThis.setInterval(() => invokeCallback(fn, ...args), delay);
  releases.set(id, release);
  return id;
}

export function clearInterval(id) {
  globalThis.clearInterval(id);
  releases.get(id)?.();
  releases.delete(id);
}

export default { setTimeout, clearTimeout, setInterval, clearInterval };
