#!/usr/bin/env node
// Runs the Dockerfile's build stage as plain shell steps in a scratch folder (no Docker engine
// here), then checks what the runtime stage would ship: proves the image's install and build work
// from a clean copy of the build context, and that every service starts from the pruned install.
//
//   node scripts/check-image-build.mjs [--dockerfile Dockerfile] [--keep]
//
// Understood in the build stage: WORKDIR, ENV, COPY <context paths...> <dest>, RUN. Anything else
// (or COPY --from, ADD) fails loudly, so the Dockerfile cannot drift out of what CI checks.
// The build context is the repository's files (git ls-files, tracked and untracked-not-ignored)
// filtered by .dockerignore, as `docker build .` would send them.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: { dockerfile: { type: 'string', default: join(repo, 'Dockerfile') }, keep: { type: 'boolean', default: false } },
});

function fail(message) {
  process.stderr.write(`check-image-build: ${message}\n`);
  process.exit(1);
}

/** Dockerfile -> [{ op, args, line }], continuation lines joined, comments and blanks dropped. */
function parseDockerfile(text) {
  const out = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending !== '' && line.trim().startsWith('#')) return; // comments inside a continued RUN
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\w+)\s+(.*)$/s.exec(full);
    if (!match) fail(`line ${startLine}: cannot parse "${full}"`);
    out.push({ op: match[1].toUpperCase(), args: match[2], line: startLine });
  });
  return out;
}

/** .dockerignore patterns -> predicate (last matching pattern wins, "!" re-includes). */
function dockerignore(text) {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === '*' && pattern[i + 1] === '*') {
          // "**/" is any number of directories (none included); a trailing "**" is anything.
          if (pattern[i + 2] === '/') {
            re += '(.*/)?';
            i += 2;
          } else {
            re += '.*';
            i++;
          }
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      // A pattern naming a directory excludes everything below it too.
      return { negate, re: new RegExp(`^${re}(/.*)?$`) };
    });
  return (file) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(file)) ignored = !r.negate;
    return ignored;
  };
}

function contextFiles() {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) fail(`git ls-files failed: ${r.stderr}`);
  const ignorePath = join(repo, '.dockerignore');
  const ignored = existsSync(ignorePath) ? dockerignore(readFileSync(ignorePath, 'utf8')) : () => false;
  return r.stdout
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(repo, f)) && !ignored(f));
}

function run(command, cwd, env) {
  process.stdout.write(`+ ${command}\n`);
  const r = spawnSync('sh', ['-ec', command], { cwd, env, stdio: 'inherit' });
  if (r.status !== 0) fail(`"${command}" exited with ${r.status ?? r.signal}`);
}

const instructions = parseDockerfile(readFileSync(opts.dockerfile, 'utf8'));
const stages = [];
for (const ins of instructions) {
  if (ins.op === 'FROM') {
    const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
    if (!m) fail(`line ${ins.line}: cannot parse FROM ${ins.args}`);
    stages.push({ image: m[1], name: m[2]?.toLowerCase(), instructions: [] });
  } else if (stages.length > 0) stages.at(-1).instructions.push(ins);
  else if (ins.op !== 'ARG') fail(`line ${ins.line}: ${ins.op} before the first FROM`);
}
const build = stages.find((s) => s.name === 'build');
const runtime = stages.at(-1);
if (!build || runtime === build) fail('expected a stage named "build" followed by a runtime stage');
if (!/^node:20[.\w-]*-bookworm-slim$/.test(build.image) || !/^node:20[.\w-]*-bookworm-slim$/.test(runtime.image)) {
  fail(`both stages must use a Node 20 bookworm-slim base (uWebSockets.js ABI 115, glibc), got ${build.image} / ${runtime.image}`);
}

const scratch = mkdtempSync(join(tmpdir(), 'session-mesh-image-'));
const context = contextFiles();
const env = { ...process.env, HOME: process.env.HOME ?? '/root' };
let workdir = scratch;
/** A path inside the emulated image: absolute from the scratch root, relative from WORKDIR. */
const inImage = (p) => (posix.isAbsolute(p) ? join(scratch, p) : join(workdir, p));
const started = Date.now();
try {
  for (const ins of build.instructions) {
    switch (ins.op) {
      case 'WORKDIR':
        workdir = join(scratch, ins.args);
        mkdirSync(workdir, { recursive: true });
        break;
      case 'ENV':
        for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
        break;
      case 'COPY': {
        const parts = ins.args.split(/\s+/);
        if (parts.some((p) => p.startsWith('--'))) fail(`line ${ins.line}: COPY flags are not emulated in the build stage`);
        const dest = parts.pop();
        for (const src of parts) {
          const prefix = src.replace(/\/$/, '');
          const matched = context.filter((f) => f === prefix || f.startsWith(`${prefix}/`));
          if (matched.length === 0) fail(`line ${ins.line}: COPY ${src}: nothing in the build context (check .dockerignore)`);
          for (const f of matched) {
            // Docker copies a directory's contents into dest, a file into dest (dir when it ends in /).
            const rel = f === prefix ? posix.basename(f) : posix.relative(prefix, f);
            const target = dest.endsWith('/') || f !== prefix ? inImage(posix.join(dest, rel)) : inImage(dest);
            mkdirSync(dirname(target), { recursive: true });
            cpSync(join(repo, f), target);
          }
        }
        break;
      }
      case 'RUN':
        run(ins.args, workdir, env);
        break;
      default:
        fail(`line ${ins.line}: ${ins.op} is not emulated in the build stage; keep it to WORKDIR, ENV, COPY, RUN`);
    }
  }
  const buildSeconds = ((Date.now() - started) / 1000).toFixed(0);

  // The runtime stage: what it copies from the build stage must exist; it runs as non-root.
  let user;
  let cmd;
  for (const ins of runtime.instructions) {
    if (ins.op === 'COPY') {
      const m = /--from=build\s+(\S+)/.exec(ins.args);
      if (m && !existsSync(join(scratch, m[1]))) fail(`line ${ins.line}: COPY --from=build ${m[1]}: the build stage made no such path`);
    }
    if (ins.op === 'USER') user = ins.args;
    if (ins.op === 'CMD') cmd = JSON.parse(ins.args);
  }
  if (!user || !/^[1-9]\d*(:\d+)?$/.test(user)) fail(`runtime stage: USER must be a numeric non-root uid (Kubernetes runAsNonRoot checks it), got ${user}`);
  if (!Array.isArray(cmd) || cmd[0] !== 'node') fail('runtime stage: CMD must be an exec-form node command (node is PID 1 and handles SIGTERM)');

  const app = join(scratch, 'app');
  for (const dev of ['typescript', 'vitest']) {
    if (existsSync(join(app, 'node_modules', dev))) fail(`the pruned install still has the dev dependency ${dev}`);
  }
  // The native uWebSockets.js binary must load (the package silently falls back to a slow shim).
  run(
    `node --input-type=module -e "import uWS from 'uWebSockets.js'; if (typeof uWS.SSLApp !== 'function') { console.error('uWebSockets.js fell back to its JS shim'); process.exit(1); } console.log('uWebSockets.js native binary loaded');"`,
    app,
    { ...process.env, NODE_ENV: 'production' },
  );
  // Each service's entry point loads its whole module graph before it reads its configuration:
  // a bad variable must end in the documented exit code 2 naming the variable, not in a missing
  // module.
  for (const service of ['edge', 'registry', 'admin']) {
    const script = `services/${service}/dist/main.js`;
    const r = spawnSync('node', [script], {
      cwd: app,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', MESH_OPS_PORT: 'not-a-port', MESH_NATS_URL: 'nats://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const output = `${r.stdout}${r.stderr}`;
    if (r.status !== 2 || !output.includes('MESH_OPS_PORT')) {
      fail(`${script} with MESH_OPS_PORT=not-a-port: expected exit code 2 naming the variable, got ${r.status ?? r.signal}:\n${output}`);
    }
    process.stdout.write(`${script}: starts from the pruned install (config error exit 2 as expected)\n`);
  }
  process.stdout.write(`image build stage OK in ${buildSeconds} s (scratch folder ${scratch})\n`);
} finally {
  if (!opts.keep) rmSync(scratch, { recursive: true, force: true });
}
