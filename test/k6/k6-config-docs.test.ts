/**
 * Keeps what users read in step with what the scripts do: every environment variable a k6 script
 * reads is documented in k6/README.md, and the k6-operator TestRun example uses only fields of the
 * TestRun resource, runs a script that exists, and sets only variables the scripts read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { parse } from 'yaml';

const k6Dir = fileURLToPath(new URL('../../k6/', import.meta.url));
const read = (path: string) => readFileSync(`${k6Dir}${path}`, 'utf8');
const sources = [
  ...readdirSync(k6Dir).filter((f) => f.endsWith('.js')),
  ...readdirSync(`${k6Dir}lib`).map((f) => `lib/${f}`),
].map((path) => ({ path, text: read(path) }));

/** Variables read through the helpers of lib/mesh.js, or named as a hold-and-push interval variable. */
function variablesRead(): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = /(?:\benv(?:Int|DurationMs)?\(|intervalVariable: )'([A-Z][A-Z0-9_]*)'/g;
  for (const { path, text } of sources) for (const m of text.matchAll(pattern)) found.set(m[1]!, path);
  return found;
}

it('documents in k6/README.md every environment variable the scripts read', () => {
  const readme = read('README.md');
  const read_ = variablesRead();
  expect(read_.size).toBeGreaterThan(20);
  const undocumented = [...read_].filter(([name]) => !readme.includes(`\`${name}\``)).map(([name, path]) => `${name} (${path})`);
  expect(undocumented).toEqual([]);
});

// Field names of k6-operator's TestRun (api/v1alpha1/testrun_types.go: TestRunSpec, K6Script,
// K6Configmap, Pod), so a misspelled field fails here instead of being dropped by the API server.
const testRunSpecFields = ['script', 'parallelism', 'separate', 'arguments', 'ports', 'initializer', 'starter', 'runner', 'quiet', 'paused', 'scuttle', 'cleanup', 'cloud'];
const scriptFields = ['volumeClaim', 'configMap', 'localFile'];
const configMapFields = ['name', 'file'];
const podFields = ['disabled', 'affinity', 'automountServiceAccountToken', 'env', 'image', 'imagePullSecrets', 'imagePullPolicy', 'metadata', 'nodeSelector', 'tolerations', 'topologySpreadConstraints', 'resources', 'serviceAccountName', 'securityContext', 'containerSecurityContext', 'envFrom', 'readinessProbe', 'livenessProbe', 'initContainers', 'volumes', 'volumeMounts', 'priorityClassName', 'schedulerName'];

it('k6/operator/testrun.yaml is a TestRun of an existing script, setting only variables the scripts read', () => {
  const doc = parse(read('operator/testrun.yaml')) as {
    apiVersion: string;
    kind: string;
    spec: Record<string, unknown> & { script: { configMap: Record<string, string> }; runner: Record<string, unknown> & { env: Array<{ name: string }> } };
  };
  expect(doc.apiVersion).toBe('k6.io/v1alpha1');
  expect(doc.kind).toBe('TestRun');
  expect(Object.keys(doc.spec).filter((k) => !testRunSpecFields.includes(k))).toEqual([]);
  expect(Object.keys(doc.spec.script).filter((k) => !scriptFields.includes(k))).toEqual([]);
  expect(Object.keys(doc.spec.script.configMap).filter((k) => !configMapFields.includes(k))).toEqual([]);
  expect(Object.keys(doc.spec.runner).filter((k) => !podFields.includes(k))).toEqual([]);

  // The ConfigMap holds `k6 archive <script>` output named after the script (k6/README.md).
  const archive = doc.spec.script.configMap['file']!;
  expect(archive).toMatch(/\.tar$/);
  expect(sources.map((s) => s.path)).toContain(archive.replace(/\.tar$/, '.js'));

  const read_ = variablesRead();
  const unknown = doc.spec.runner.env.map((e) => e.name).filter((name) => !read_.has(name));
  expect(unknown).toEqual([]);
});
