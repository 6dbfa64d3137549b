/**
 * Runs one of the repository's bench scripts to completion for a CI smoke test, collecting its
 * output; stop() (for afterAll) sends SIGTERM to a run still going: the benches stop every process
 * they started before exiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '../..');

export class BenchRun {
  private child: ChildProcess | undefined;

  /** cmd and args from the repository root; env is the whole environment of the child. */
  run(cmd: string, args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      let output = '';
      const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  stop(): void {
    if (this.child?.exitCode === null) this.child.kill('SIGTERM');
  }
}
