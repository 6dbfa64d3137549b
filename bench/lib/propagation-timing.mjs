// Timing of "close this session's sockets now" calls, shared by the edge's propagation phase
// (bench/run.mjs: admin kill and blacklist) and the peers' (bench/phases/peer-capacity.mjs: their own
// disconnect API). One call at a time, spaced at most `rate` per second, so the figures are
// propagation, not queueing. Before each call the load generators holding the target's sockets are
// marked (stdin `mark`); the call goes out once every mark is acknowledged; each load generator then
// reports the time from its mark to the last close it saw (`snap`). That time is an upper bound of the
// time from the call, longer by at most the mark's round trip (markRoundTripMaxMs), and the lower
// bound counts as if every mark had landed as it was written.
import { setTimeout as sleep } from 'node:timers/promises';

/** p50/p99/max (and the count) of a list of milliseconds. */
export function msSummary(list) {
  const v = [...list].sort((a, b) => a - b);
  const at = (q) => (v.length ? v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] : undefined);
  return { count: v.length, p50: at(0.5), p99: at(0.99), max: v[v.length - 1], mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined };
}

/**
 * A timer for successive batches of calls that share one pace (the spacing holds across batches).
 * time(targets, call): targets are [{ id, lgs }] (lgs: the load generators holding its sockets, each
 * started with stdin); call(id) sends the call and resolves when it is answered (it throws on a bad
 * answer). A target whose sockets are not all closed 5 s after the call is a miss.
 */
export function propagationTimer(rate) {
  const spacingMs = 1000 / rate;
  let lastStart = -Infinity;
  return async function time(targets, call) {
    const closeMs = [];
    const closeLowerMs = [];
    const answerMs = [];
    const misses = [];
    let markRoundTripMaxMs = 0;
    for (const { id, lgs } of targets) {
      const wait = lastStart + spacingMs - performance.now();
      if (wait > 0) await sleep(wait);
      lastStart = performance.now();
      const from = lgs.map((lg) => lg.messages.length);
      const markWritten = performance.now();
      for (const lg of lgs) lg.send('mark');
      await Promise.all(lgs.map((lg, k) => lg.waitFor((m) => m.event === 'marked', 5000, 'the mark', from[k])));
      const sentAt = performance.now();
      markRoundTripMaxMs = Math.max(markRoundTripMaxMs, sentAt - markWritten);
      await call(id);
      answerMs.push(performance.now() - sentAt);
      for (;;) {
        const f = lgs.map((lg) => lg.messages.length);
        for (const lg of lgs) lg.send('snap');
        const snaps = await Promise.all(lgs.map((lg, k) => lg.waitFor((m) => m.event === 'snap', 5000, 'a snap', f[k])));
        if (snaps.every((s) => s.closedSinceMark >= 1)) {
          const last = Math.max(...snaps.map((s) => s.lastCloseMs));
          closeMs.push(last);
          closeLowerMs.push(Math.max(0, last - (sentAt - markWritten)));
          break;
        }
        if (performance.now() - sentAt > 5000) {
          misses.push({ session: id, closed: snaps.map((s) => s.closedSinceMark) });
          break;
        }
        await sleep(2);
      }
    }
    return {
      requests: targets.length,
      lastSocketClosedMs: msSummary(closeMs),
      lastSocketClosedLowerBoundMs: msSummary(closeLowerMs),
      answerMs: msSummary(answerMs),
      misses: misses.length,
      missSamples: misses.slice(0, 5),
      markRoundTripMaxMs,
    };
  };
}

/** Close reasons the load generators counted (their next stats lines), reasons cut to 40 characters. */
export async function closeReasons(lgs) {
  const froms = lgs.map((lg) => lg.messages.length);
  const stats = await Promise.all(lgs.map((lg, k) => lg.waitFor((m) => m.event === 'stats', 5000, 'a stats line', froms[k])));
  const closes = {};
  for (const s of stats) for (const [reason, c] of Object.entries(s.closes ?? {})) closes[reason.slice(0, 40)] = (closes[reason.slice(0, 40)] ?? 0) + c;
  return closes;
}
