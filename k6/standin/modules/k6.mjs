// k6: check, sleep, fail, group.
import { blockFor } from '../vu-runtime.mjs';
import { builtin } from './builtin.mjs';

/** Runs each named predicate on `value`; every result is a sample of the `checks` Rate. */
export function check(value, sets, _tags) {
  let all = true;
  for (const predicate of Object.values(sets ?? {})) {
    const ok = Boolean(typeof predicate === 'function' ? predicate(value) : predicate);
    builtin.checks.add(ok);
    all &&= ok;
  }
  return all;
}

/** Blocks this VU for `seconds` (its sockets and timers wait too, as in k6). */
export function sleep(seconds) {
  blockFor(Number(seconds) * 1000);
}

export function fail(message) {
  throw new Error(message ?? 'fail() called');
}

export function group(_name, fn) {
  return fn();
}

export default { check, sleep, fail, group };
