/**
 * The chart's tools, pinned and cached by scripts (helm, the strict manifest validator, hadolint),
 * and thin wrappers that run them. scripts/test.sh exports their paths; run alone, the scripts are
 * called here (cached after the first run; the first Go build of the validator takes ~30 s).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const chartDir = `${repoRoot}charts/session-mesh`;
export const ciValuesDir = `${chartDir}/ci`;
export const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));

function tool(envName: string, script: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const out = execFileSync('bash', [`${repoRoot}scripts/${script}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = out.trim().split('\n').at(-1) ?? '';
  process.env[envName] = path;
  return path;
}

export const helmBin = (): string => tool('HELM_BIN', 'install-helm.sh');
export const validatorBin = (): string => tool('K8S_VALIDATE_BIN', 'build-k8s-validate.sh');
export const hadolintBin = (): string => tool('HADOLINT_BIN', 'install-hadolint.sh');

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(bin: string, args: readonly string[], input?: string): RunResult {
  const r = spawnSync(bin, args, { cwd: repoRoot, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The realistic values files CI renders (charts/session-mesh/ci/*.yaml), by name. */
export function ciValuesFiles(): string[] {
  return readdirSync(ciValuesDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

/** `helm template` of the chart; valuesFiles are paths, sets are --set expressions. */
export function helmTemplate(valuesFiles: readonly string[] = [], sets: readonly string[] = [], release = 'mesh'): RunResult {
  const args = ['template', release, chartDir, '--namespace', 'realtime'];
  for (const f of valuesFiles) args.push('--values', f);
  for (const s of sets) args.push('--set', s);
  return run(helmBin(), args);
}

/** The NOTES Helm prints after an install, rendered offline (`helm install --dry-run=client`). */
export function helmNotes(valuesFiles: readonly string[] = [], release = 'mesh'): RunResult {
  const args = ['install', release, chartDir, '--namespace', 'realtime', '--dry-run=client'];
  for (const f of valuesFiles) args.push('--values', f);
  const r = run(helmBin(), args);
  const notes = r.stdout.includes('NOTES:') ? r.stdout.slice(r.stdout.indexOf('NOTES:')) : '';
  return { ...r, stdout: notes };
}

export function helmLint(valuesFiles: readonly string[] = []): RunResult {
  const args = ['lint', '--strict', chartDir];
  for (const f of valuesFiles) args.push('--values', f);
  return run(helmBin(), args);
}

/** A Kubernetes object as rendered; spec shapes vary by kind, so they stay loosely typed here. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly spec?: any;
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
}

export interface Validated {
  readonly status: number | null;
  readonly stderr: string;
  /** The accepted documents (only when status is 0). */
  readonly manifests: Manifest[];
}

/** Strict decoding into the pinned Kubernetes API types (tools/k8s-validate). */
export function validateManifests(yaml: string): Validated {
  const r = run(validatorBin(), ['--json'], yaml);
  const manifests =
    r.status === 0 ? (JSON.parse(r.stdout) as { source: string; manifest: Manifest }[]).map((d) => d.manifest) : [];
  return { status: r.status, stderr: r.stderr, manifests };
}
