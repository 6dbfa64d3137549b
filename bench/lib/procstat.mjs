// /proc readings: CPU time and resident memory of any process, whatever it reports about itself.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks;
/** Clock ticks per second for /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux x86-64). */
export function clockTicks() {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** CPU time of all threads of pid, in µs: { user, system, total }. Resolution 1/CLK_TCK s. */
export function cpuUs(pid) {
  const f = statFields(pid);
  const us = 1e6 / clockTicks();
  const user = Number(f[11]) * us; // field 14 utime
  const system = Number(f[12]) * us; // field 15 stime
  return { user, system, total: user + system };
}

/** Kernel start time of pid (field 22), or undefined when pid is gone. Identifies a process across pid reuse. */
export function procStartTime(pid) {
  try {
    return statFields(pid)[19];
  } catch {
    return undefined;
  }
}

/** VmRSS of pid in KiB. */
export function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** CPU snapshot of several named pids. */
export function cpuSnapshot(pids) {
  const out = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = cpuUs(pid);
  return out;
}

/** Per-name CPU difference between two snapshots. */
export function cpuDelta(before, after) {
  const out = {};
  for (const name of Object.keys(after)) {
    const a = after[name];
    const b = before[name];
    out[name] = { user: a.user - b.user, system: a.system - b.system, total: a.total - b.total };
  }
  return out;
}

/** Busy CPU time of the whole machine (all cores, /proc/stat), in µs: everything but idle and iowait. */
export function machineBusyUs() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1e6) / clockTicks();
}
