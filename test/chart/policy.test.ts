/**
 * The policy checks catch what they are for: each case breaks one rule in the default rendering
 * and expects exactly that violation (the rendered chart itself passes: render.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { helmTemplate, type Manifest, validateManifests } from './support/chart-tools.js';
import { policyViolations, secretValuesOf } from './support/policy.js';

let rendered: Manifest[] = [];

beforeAll(() => {
  const r = helmTemplate([], ['edge.autoscaling.enabled=true', 'ingress.enabled=true', 'serviceMonitor.enabled=true']);
  expect(r.status).toBe(0);
  const validated = validateManifests(r.stdout);
  expect(validated.status).toBe(0);
  rendered = validated.manifests;
}, 300_000);

/** A deep copy of the rendering with one change, and the violations it produces. */
function violationsAfter(change: (m: Manifest[]) => void): string[] {
  const copy = structuredClone(rendered);
  change(copy);
  return policyViolations(copy, { secretValues: secretValuesOf(copy) });
}

const find = (m: Manifest[], kind: string, suffix: string): Manifest => {
  const found = m.find((x) => x.kind === kind && x.metadata.name.endsWith(suffix));
  if (!found) throw new Error(`${kind} *${suffix} not rendered`);
  return found;
};
const pod = (m: Manifest[], suffix: string) => find(m, 'Deployment', suffix).spec.template.spec;
const container = (m: Manifest[], suffix: string) => pod(m, suffix).containers[0];
const setEnv = (c: { env: { name: string; value?: string }[] }, name: string, value: string) => {
  const e = c.env.find((x) => x.name === name);
  if (!e) throw new Error(`${name} not set`);
  e.value = value;
};

describe('policy checks', () => {
  it('pass on the unchanged rendering', () => {
    expect(violationsAfter(() => {})).toEqual([]);
  });

  it.each([
    ['a writable root filesystem', (m: Manifest[]) => (container(m, '-admin').securityContext.readOnlyRootFilesystem = false), 'root filesystem is not read-only'],
    ['running as root', (m: Manifest[]) => (pod(m, '-admin').securityContext.runAsUser = 0), 'runs as uid 0'],
    ['runAsNonRoot off', (m: Manifest[]) => {
      pod(m, '-registry').securityContext.runAsNonRoot = false;
      container(m, '-registry').securityContext.runAsNonRoot = false;
    }, 'runAsNonRoot is not true'],
    ['privilege escalation', (m: Manifest[]) => delete container(m, '-edge').securityContext.allowPrivilegeEscalation, 'allowPrivilegeEscalation is not false'],
    ['capabilities kept', (m: Manifest[]) => (container(m, '-edge').securityContext.capabilities = { drop: ['NET_RAW'] }), 'capabilities are not all dropped'],
    ['no seccomp profile', (m: Manifest[]) => {
      delete pod(m, '-edge').securityContext.seccompProfile;
      delete container(m, '-edge').securityContext.seccompProfile;
    }, 'no seccomp profile'],
    ['a latest image', (m: Manifest[]) => (container(m, '-edge').image = 'session-mesh:latest'), 'no pinned tag or digest'],
    ['a service account token', (m: Manifest[]) => delete pod(m, '-edge').automountServiceAccountToken, 'mounts a service account token'],
    ['no memory limit', (m: Manifest[]) => delete container(m, '-registry').resources.limits, 'no memory limit'],
    ['no requests', (m: Manifest[]) => delete container(m, '-registry').resources.requests, 'cpu and memory requests not set'],
    ['no readiness probe', (m: Manifest[]) => delete container(m, '-admin').readinessProbe, 'no readinessProbe'],
    ['a probe on an undeclared port', (m: Manifest[]) => (container(m, '-admin').livenessProbe.httpGet.port = 'metrics'), 'uses port metrics'],
    ['a credential as an env literal', (m: Manifest[]) => {
      const env = container(m, '-edge').env as { name: string; value?: string; valueFrom?: unknown }[];
      const secret = env.find((e) => e.name === 'MESH_JWT_SECRET')!;
      delete secret.valueFrom;
      secret.value = 'not-so-secret-after-all-0123456789';
    }, 'MESH_JWT_SECRET is a literal'],
    ['a secret value under another name', (m: Manifest[]) => {
      const generated = Buffer.from(find(m, 'Secret', 'mesh-session-mesh').data!['admin-tokens']!, 'base64').toString();
      container(m, '-admin').env.push({ name: 'DEBUG_HELPER', value: generated });
    }, 'DEBUG_HELPER holds a secret value'],
    ['a secret in a ConfigMap', (m: Manifest[]) => {
      const generated = Buffer.from(find(m, 'Secret', 'mesh-session-mesh').data!['jwt-secret']!, 'base64').toString();
      m.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'leaky' }, data: { settings: `key=${generated}` } });
    }, 'ConfigMap/leaky: key settings holds a secret'],
    ['a number printed as a float', (m: Manifest[]) => setEnv(container(m, '-edge'), 'MESH_MAX_BACKPRESSURE_BYTES', '1.048576e+06'), 'MESH_MAX_BACKPRESSURE_BYTES=1.048576e+06 is not a plain integer'],
    ['a listen port the container does not declare', (m: Manifest[]) => setEnv(container(m, '-admin'), 'MESH_OPS_PORT', '9191'), 'MESH_OPS_PORT=9191 but container port ops is 9090'],
    ['a grace period shorter than the drain', (m: Manifest[]) => (pod(m, '-edge').terminationGracePeriodSeconds = 12), 'shorter than the drain'],
    ['a watchdog inside the drain', (m: Manifest[]) => setEnv(container(m, '-edge'), 'MESH_SHUTDOWN_TIMEOUT_MS', '14000'), 'does not outlast the drain'],
    ['a grace period shorter than the watchdog', (m: Manifest[]) => (pod(m, '-registry').terminationGracePeriodSeconds = 10), 'not longer than MESH_SHUTDOWN_TIMEOUT_MS'],
    ['no preStop on the edge', (m: Manifest[]) => delete container(m, '-edge').lifecycle, 'no preStop hook'],
    ['a PDB that blocks every eviction', (m: Manifest[]) => (find(m, 'PodDisruptionBudget', '-registry').spec.minAvailable = 2), 'minAvailable 2 with 2 replicas blocks every eviction'],
    ['a PDB selecting nothing', (m: Manifest[]) => (find(m, 'PodDisruptionBudget', '-admin').spec.selector.matchLabels['app.kubernetes.io/component'] = 'admn'), 'selects 0 Deployments'],
    ['replicas under an HPA', (m: Manifest[]) => (find(m, 'Deployment', '-edge').spec.replicas = 2), 'sets replicas although'],
    ['a Deployment without a PDB', (m: Manifest[]) => m.splice(m.indexOf(find(m, 'PodDisruptionBudget', '-admin')), 1), 'no PodDisruptionBudget'],
    ['a Service on a missing port', (m: Manifest[]) => (find(m, 'Service', '-edge').spec.ports[0].targetPort = 'websocket'), 'targetPort websocket'],
    ['an Ingress to a missing Service', (m: Manifest[]) => (find(m, 'Ingress', '-edge').spec.rules[0].http.paths[0].backend.service.name = 'nope'), 'backend nope:ws does not exist'],
    ['a ServiceMonitor on a missing port', (m: Manifest[]) => (find(m, 'ServiceMonitor', 'mesh-session-mesh').spec.endpoints[0].port = 'metrics'), 'endpoint port metrics'],
  ])('catch %s', (_name, change, expected) => {
    const violations = violationsAfter(change);
    expect(violations.length, violations.join('\n')).toBeGreaterThan(0);
    expect(violations.join('\n')).toContain(expected);
  });
});
