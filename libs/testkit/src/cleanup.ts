// Last-resort cleanup for what tests start: whatever is still tracked when this process exits (or
// gets SIGINT/SIGTERM) is SIGKILLed or removed, so a crashed or interrupted run leaves nothing behind.
// Normal stops come first; a child leaves the set when it exits.
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
