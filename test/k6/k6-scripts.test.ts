/**
 * The k6 scripts (k6/*.js), type-checked against @types/k6 and run for a few seconds each through
 * the CI stand-in (k6/standin/run.mjs) against a real topology: a 3-node NATS cluster, two edges,
 * a registry and the admin API, all separate processes. Sessions are spread over both edges and the
 * admin API publishes from a third NATS node, so every push crosses the cluster. Each run must pass
 * its thresholds and print exact counts (sent = delivered, lost = 0).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startMeshCluster, type MeshCluster } from '../support/mesh-cluster.js';
import { mintToken, TEST_JWT_SECRET } from '../support/tokens.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'k6-standin-'));

interface Summary {
  metrics: Record<string, { type: string; values: Record<string, number> }>;
  thresholds: Array<{ metric: string; threshold: string; ok: boolean }>;
  thresholdsPassed: boolean;
  errors: string[];
  iterationsInterrupted: number;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  summary: Summary | undefined;
}

let runs = 0;
function runStandin(script: string, env: Record<string, string>): Promise<RunResult> {
  const summaryFile = join(workDir, `summary-${++runs}.json`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['k6/standin/run.mjs', '--summary-json', summaryFile, script],
      { cwd: repoRoot, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        let summary: Summary | undefined;
        try {
          summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
        } catch {
          summary = undefined;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, summary });
      },
    );
  });
}

const count = (r: RunResult, metric: string): number | undefined => r.summary?.metrics[metric]?.values['count'];
const explain = (r: RunResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

describe('the k6 stand-in itself', () => {
  it('passes a threshold the samples meet and fails the run (exit 99) on one they cannot meet', async () => {
    const met = await runStandin('test/k6/fixtures/threshold.js', { BOUND_MS: '10' });
    expect(met.code, explain(met)).toBe(0);
    expect(met.summary?.thresholds).toEqual([expect.objectContaining({ metric: 'fixture_latency', threshold: 'p(95)<10', ok: true })]);

    const crossed = await runStandin('test/k6/fixtures/threshold.js', { BOUND_MS: '1' });
    expect(crossed.code, explain(crossed)).toBe(99);
    expect(crossed.summary?.thresholdsPassed).toBe(false);
    expect(crossed.stdout).toContain("FAIL fixture_latency 'p(95)<1'");
    expect(crossed.stdout).toContain('1 of 1 thresholds crossed');
  });

  it('ends an iteration when its timers are done, reports callback exceptions, interrupts at the hard stop', async () => {
    const started = Date.now();
    const r = await runStandin('test/k6/fixtures/lifecycle.js', {});
    expect(r.code, explain(r)).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(count(r, 'timer_fired')).toBe(4);
    expect(r.summary?.metrics['iteration_duration']?.values['min']).toBeGreaterThanOrEqual(95);
    expect(r.summary?.errors).toEqual([expect.stringContaining('boom in a timer')]);
    expect(r.summary?.iterationsInterrupted).toBe(1);
  });

  it('refuses a tag-filtered threshold instead of ignoring the filter (exit 104)', async () => {
    const r = await runStandin('test/k6/fixtures/tag-filtered-threshold.js', {});
    expect(r.code, explain(r)).toBe(104);
    expect(r.stderr).toContain('tag-filtered thresholds are not supported');
  });

  it('refuses a k6 module it does not implement, naming it (exit 107)', async () => {
    const result = await runStandin('test/k6/fixtures/unimplemented-module.js', {});
    expect(result.code, explain(result)).toBe(107);
    expect(result.stderr).toContain("module 'k6/net/grpc' is not implemented");
  });
});

it.each([
  ['every k6 script against @types/k6', 'k6/tsconfig.json'],
  ['the stand-in against @types/node', 'k6/standin/tsconfig.json'],
])('type-checks %s', async (_what, project) => {
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { cwd: repoRoot }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, output: stdout + stderr }),
    );
  });
  expect(result.output).toBe('');
  expect(result.code).toBe(0);
}, 60_000);

describe('k6 scripts against a local topology', () => {
  let cluster: MeshCluster;
  let tokenEndpoint: Server;
  let tokensServed = 0;
  const env = (): Record<string, string> => ({
    MESH_WS_URL: `${cluster.edgeUrl(0)},${cluster.edgeUrl(1)}`,
    MESH_JWT_SECRET: TEST_JWT_SECRET,
    MESH_ADMIN_URL: cluster.adminUrl(),
    MESH_ADMIN_TOKEN: ADMIN_TOKEN,
    // CI shares two cores with other test files: latency bounds far above what loopback needs, so
    // the thresholds catch stalls and losses, not scheduler noise.
    PUSH_P95_MS: '500',
    PUSH_P99_MS: '2000',
    WELCOME_P95_MS: '2000',
    WELCOME_P99_MS: '4000',
    BROADCAST_P95_MS: '500',
    BROADCAST_P99_MS: '2000',
    // Waiting for pushes in flight ends as soon as all arrived: a long bound costs nothing when
    // nothing is lost.
    DRAIN_MS: '5000',
  });

  beforeAll(async () => {
    cluster = await startMeshCluster({ edges: 2, registries: 1, admin: true });
    // A token endpoint as a user's identity service would offer it (GET ?user=&session=).
    tokenEndpoint = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      tokensServed++;
      void mintToken({ sub: url.searchParams.get('user') ?? '', jti: url.searchParams.get('session') ?? '' }).then((token) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
      });
    });
    await new Promise<void>((resolve) => tokenEndpoint.listen(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    tokenEndpoint?.close();
    await cluster?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('targeted-push: every timestamped push arrives, latency and loss thresholds pass', async () => {
    const r = await runStandin('k6/targeted-push.js', { ...env(), VUS: '4', CONNECTIONS_PER_VU: '3', PUSH_INTERVAL_MS: '25', DURATION: '2s', CONNECT_SPREAD: '200ms' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.summary?.errors).toEqual([]);
    expect(count(r, 'push_sent')).toBeGreaterThan(150);
    expect(count(r, 'push_delivered')).toBe(count(r, 'push_sent'));
    expect(count(r, 'push_lost')).toBe(0);
    expect(r.summary?.metrics['push_latency']?.values['count']).toBe(count(r, 'push_delivered'));
    expect(r.stdout).toMatch(/push_sent\.+: \d+/);
    expect(r.stdout).toMatch(/push_lost\.+: 0 /);
  });

  it('soak: sessions held on both edges stay open and keep receiving probes', async () => {
    const r = await runStandin('k6/soak.js', { ...env(), VUS: '3', CONNECTIONS_PER_VU: '30', PROBE_INTERVAL_MS: '100', DURATION: '2s', CONNECT_SPREAD: '500ms' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.summary?.errors).toEqual([]);
    expect(r.summary?.metrics['mesh_welcome_time']?.values['count']).toBe(90);
    expect(count(r, 'mesh_unexpected_close')).toBe(0);
    expect(count(r, 'push_sent')).toBeGreaterThan(20);
    expect(count(r, 'push_delivered')).toBe(count(r, 'push_sent'));
    expect(count(r, 'push_lost')).toBe(0);
  });

  it('churn: connect/close cycles with tokens from a token endpoint, presence empty at the end', async () => {
    const before = tokensServed;
    const { MESH_JWT_SECRET: _secret, ...withoutSecret } = env();
    const r = await runStandin('k6/churn.js', {
      ...withoutSecret,
      MESH_TOKEN_URL: `http://127.0.0.1:${(tokenEndpoint.address() as { port: number }).port}/token`,
      VUS: '4',
      DURATION: '2s',
      CHURN_HOLD_MIN_MS: '20',
      CHURN_HOLD_MAX_MS: '150',
      MIN_CHURN_CYCLES: '12',
    });
    expect(r.code, explain(r)).toBe(0);
    expect(r.summary?.errors).toEqual([]);
    const cycles = count(r, 'churn_cycles') ?? 0;
    expect(cycles).toBeGreaterThanOrEqual(12);
    expect(tokensServed - before).toBeGreaterThanOrEqual(cycles);
    expect(count(r, 'presence_leftover')).toBe(0);
    expect(r.summary?.thresholds.find((t) => t.metric === 'presence_leftover')?.ok).toBe(true);
  });

  it('resume: pushes missed while away are replayed on the other edge exactly, in order, then live ones', async () => {
    const r = await runStandin('k6/resume.js', { ...env(), VUS: '3', DURATION: '2s', LIVE_BEFORE: '3', MISSED: '10', LIVE_AFTER: '3', REPLAY_P95_MS: '2000', REPLAY_P99_MS: '4000' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.summary?.errors).toEqual([]);
    const iterations = r.summary?.metrics['resume_recovered']?.values['passes'] ?? 0;
    expect(iterations).toBeGreaterThanOrEqual(3);
    expect(r.summary?.metrics['resume_recovered']?.values['rate']).toBe(1);
    expect(count(r, 'resume_missing') ?? 0).toBe(0);
    expect(count(r, 'resume_duplicates') ?? 0).toBe(0);
    expect(count(r, 'resume_out_of_order') ?? 0).toBe(0);
    expect(r.summary?.metrics['resume_replay_time']?.values['count']).toBe(iterations);
  });

  it('fails the run when the edges refuse the tokens (a wrong secret), saying why', async () => {
    const r = await runStandin('k6/churn.js', { ...env(), MESH_JWT_SECRET: 'not-the-secret-of-this-cluster-0123456789', VUS: '2', DURATION: '1s', CHURN_HOLD_MIN_MS: '10', CHURN_HOLD_MAX_MS: '20' });
    expect(r.code, explain(r)).toBe(99);
    expect(r.summary?.metrics['mesh_connect_failed']?.values['rate']).toBe(1);
    expect(r.summary?.thresholds.find((t) => t.metric === 'mesh_connect_failed')?.ok).toBe(false);
    expect(r.stdout + r.stderr).toContain('failed before welcome: websocket: bad handshake (HTTP 401)');
  });

  it('broadcast: every receiver gets every broadcast of the run', async () => {
    const r = await runStandin('k6/broadcast.js', { ...env(), VUS: '3', CONNECTIONS_PER_VU: '10', BROADCAST_COUNT: '10', BROADCAST_INTERVAL_MS: '100', PUBLISH_DELAY: '2500ms' });
    expect(r.code, explain(r)).toBe(0);
    expect(r.summary?.errors).toEqual([]);
    expect(count(r, 'broadcast_sent')).toBe(10);
    expect(count(r, 'broadcast_delivered')).toBe(10 * 30);
    expect(count(r, 'broadcast_lost')).toBe(0);
    expect(r.stdout).toMatch(/broadcast_delivered\.+: 300 /);
    expect(r.stdout).toMatch(/broadcast_lost\.+: 0 /);
  });
});
