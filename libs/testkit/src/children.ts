// Child processes of tests and benchmarks: stopping one (a signal, then SIGKILL after a grace period),
// and the last-resort cleanup: whatever is still tracked when this process exits (or gets
// SIGINT/SIGTERM) is SIGKILLed or removed, so a crashed or interrupted run leaves nothing behind.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

function cleanup(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup();
      // The listener is gone now: re-raise so the default action (exit) happens.
      process.kill(process.pid, signal);
    });
  }
}

/** SIGKILLs `child` if it still runs when this process exits or is interrupted. */
export function killOnExit(child: ChildProcess): void {
  hook();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Removes `dir` when this process exits or is interrupted; the function returned forgets it (removed already). */
export function removeOnExit(dir: string): () => void {
  hook();
  dirs.add(dir);
  return () => dirs.delete(dir);
}

/**
 * Sends `signal` to `child` unless it has exited, SIGKILLs it if it is still there after graceMs,
 * and resolves once `exited` (the caller's promise of its end) has.
 */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
