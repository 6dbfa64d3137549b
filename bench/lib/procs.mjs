// Child processes of a bench run: started, logged, observed and always stopped.
//
// Lifecycle contract: every process goes through Procs.start, which records it (and its kernel start
// time, so a recycled pid is never mistaken for it) in the pid file that scripts/bench.sh sweeps on
// exit; Procs.stopAll runs in run.mjs's finally and on SIGINT/SIGTERM; an 'exit' hook SIGKILLs
// whatever is left if the orchestrator dies on an uncaught error.
import { spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from '@session-mesh/testkit';
import { procStartTime } from './procstat.mjs';

export class ProcessFailed extends Error {
  name = 'ProcessFailed';
}

export class Procs {
  /** @param {string} logDir @param {string | undefined} pidFile */
  constructor(logDir, pidFile) {
    this.logDir = logDir;
    this.pidFile = pidFile;
    /** @type {Set<Proc>} */
    this.live = new Set();
    process.on('exit', () => {
      for (const p of this.live) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }

  /**
   * @param {string} name short label, also the log file name
   * @param {string} cmd
   * @param {string[]} args
   * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, stdin?: boolean }} [opts]
   */
  start(name, cmd, args, opts = {}) {
    const logPath = join(this.logDir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    log.on('error', () => {});
    log.write(`# ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new ProcessFailed(`${name}: could not spawn ${cmd}`);
    const proc = new Proc(name, child, log, logPath);
    this.live.add(proc);
    if (this.pidFile) {
      const start = procStartTime(child.pid);
      if (start !== undefined) appendFileSync(this.pidFile, `${child.pid} ${start}\n`);
    }
    proc.exited.then(() => this.live.delete(proc));
    return proc;
  }

  /** SIGTERM to everything still running, SIGKILL after graceMs; resolves once all are gone. */
  async stopAll(graceMs = 5000) {
    await Promise.all([...this.live].map((p) => p.stop(graceMs)));
  }
}

export class Proc {
  constructor(name, child, log, logPath) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.logPath = logPath;
    /** Parsed JSON lines from stdout, in order. */
    this.messages = [];
    this.exitCode = undefined;
    this.tail = [];
    this.waiters = new Set();
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      partial += chunk;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        this.remember(line);
        if (line.startsWith('{')) {
          try {
            this.messages.push(JSON.parse(line));
          } catch {
            continue;
          }
          for (const w of this.waiters) w();
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log.write(chunk);
      for (const line of chunk.split('\n')) if (line) this.remember(line);
    });
    this.exited = new Promise((resolve) => {
      const finish = (code) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        log.end();
        for (const w of this.waiters) w();
        resolve(this.exitCode);
      };
      // 'close' (not 'exit'): stdout and stderr are drained by then, so no line is lost.
      child.on('close', (code, signal) => finish(code ?? signal));
      child.on('error', (err) => {
        this.remember(`spawn error: ${err.message}`);
        finish(`spawn error ${err.code ?? err.message}`);
      });
    });
  }

  remember(line) {
    this.tail.push(line.length > 2000 ? `${line.slice(0, 2000)}…` : line);
    if (this.tail.length > 40) this.tail.shift();
  }

  get running() {
    return this.exitCode === undefined;
  }

  /** The last lines the process printed (stdout and stderr), for error messages. */
  lastLines(n = 20) {
    return this.tail.slice(-n).join('\n');
  }

  /**
   * Resolves with the first stdout JSON message (from index `from`) that `pred` accepts; rejects
   * when the process exits first or after timeoutMs, naming `what` and quoting the process's output.
   */
  waitFor(pred, timeoutMs, what, from = 0) {
    return new Promise((resolve, reject) => {
      let i = from;
      let timer;
      const check = () => {
        for (; i < this.messages.length; i++) {
          if (pred(this.messages[i])) {
            done();
            resolve(this.messages[i]);
            return;
          }
        }
        if (!this.running) {
          done();
          reject(new ProcessFailed(`${this.name} exited (${this.exitCode}) before ${what}; its last output:\n${this.lastLines()}\n(log: ${this.logPath})`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      timer = setTimeout(() => {
        done();
        reject(new ProcessFailed(`${this.name}: no ${what} within ${timeoutMs} ms; its last output:\n${this.lastLines()}\n(log: ${this.logPath})`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** The newest stdout JSON message that pred accepts, or undefined. */
  latest(pred = () => true) {
    for (let i = this.messages.length - 1; i >= 0; i--) if (pred(this.messages[i])) return this.messages[i];
    return undefined;
  }

  /** SIGTERM, SIGKILL after graceMs; resolves with the exit code once stdout and stderr are drained. */
  async stop(graceMs = 5000) {
    if (!this.running) return this.exitCode;
    await stopChild(this.child, this.exited, 'SIGTERM', graceMs);
    await this.exited;
    return this.exitCode;
  }

  /** Writes a line to the child's stdin (started with stdin: true). */
  send(line) {
    this.child.stdin.write(`${line}\n`);
  }
}

/** Reads the whole log of a process (for a failure report). */
export function readLog(proc) {
  try {
    return readFileSync(proc.logPath, 'utf8');
  } catch {
    return '';
  }
}
