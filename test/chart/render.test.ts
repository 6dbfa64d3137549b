/**
 * Every values file CI knows (the defaults and charts/session-mesh/ci/*.yaml) passes helm lint
 * --strict, renders, decodes strictly into the pinned Kubernetes API types, and passes the policy
 * checks; and each file produces what it is there for.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ciValuesDir, ciValuesFiles, helmLint, helmNotes, helmTemplate, type Manifest, validateManifests } from './support/chart-tools.js';
import { policyViolations, secretValuesOf } from './support/policy.js';

const cases: [string, string[]][] = [['default values', []], ...ciValuesFiles().map((f): [string, string[]] => [f, [`${ciValuesDir}/${f}`]])];

const named = (manifests: Manifest[], kind: string, suffix: string): Manifest | undefined =>
  manifests.find((m) => m.kind === kind && m.metadata.name.endsWith(suffix));
const edgeContainer = (manifests: Manifest[]) => named(manifests, 'Deployment', '-edge')!.spec.template.spec.containers[0];
const envOf = (container: { env: { name: string; value?: string }[] }, name: string) => container.env.find((e) => e.name === name);

/** What each values file is for, beyond rendering cleanly. */
const expectations: Record<string, (m: Manifest[]) => void> = {
  'default values': (m) => {
    expect(m.filter((x) => x.kind === 'Deployment').map((x) => x.metadata.name).sort()).toEqual([
      'mesh-session-mesh-admin',
      'mesh-session-mesh-edge',
      'mesh-session-mesh-registry',
    ]);
    expect(m.filter((x) => x.kind === 'PodDisruptionBudget')).toHaveLength(3);
    expect(m.some((x) => ['Ingress', 'HTTPRoute', 'HorizontalPodAutoscaler', 'ServiceMonitor', 'NetworkPolicy'].includes(x.kind))).toBe(false);
    expect(named(m, 'Secret', 'mesh-session-mesh')).toBeDefined();
    expect(named(m, 'Deployment', '-edge')!.spec.replicas).toBe(2);
    expect(envOf(edgeContainer(m), 'MESH_NATS_URL')?.value).toBe('nats://nats:4222');
  },
  'autoscaling.yaml': (m) => {
    const hpa = named(m, 'HorizontalPodAutoscaler', '-edge')!;
    expect(hpa.spec.minReplicas).toBe(3);
    expect(hpa.spec.metrics.map((x: { resource: { name: string } }) => x.resource.name)).toEqual(['cpu', 'memory']);
    expect(named(m, 'Deployment', '-edge')!.spec.replicas).toBeUndefined();
    expect(named(m, 'ServiceMonitor', 'mesh-session-mesh')!.spec.endpoints[0].port).toBe('ops');
    expect(m.filter((x) => x.kind === 'NetworkPolicy')).toHaveLength(3);
    // The longer drain of this file carries through to the watchdog and the grace period.
    expect(envOf(edgeContainer(m), 'MESH_SHUTDOWN_TIMEOUT_MS')?.value).toBe('45000');
    expect(named(m, 'Deployment', '-edge')!.spec.template.spec.terminationGracePeriodSeconds).toBe(55);
  },
  'bundled-nats.yaml': (m) => {
    const nats = named(m, 'Deployment', '-nats')!;
    expect(nats.metadata.labels?.['session-mesh.io/try-out-only']).toBe('true');
    expect(envOf(edgeContainer(m), 'MESH_NATS_URL')?.value).toBe('nats://mesh-session-mesh-nats:4222');
    expect(envOf(edgeContainer(m), 'MESH_KV_REPLICAS')?.value).toBe('1');
    expect(named(m, 'NetworkPolicy', '-nats')).toBeDefined();
  },
  'existing-secret.yaml': (m) => {
    expect(m.some((x) => x.kind === 'Secret')).toBe(false);
    const jwks = envOf(edgeContainer(m), 'MESH_JWT_JWKS_URL') as unknown as { valueFrom: { secretKeyRef: { name: string; key: string } } };
    expect(jwks.valueFrom.secretKeyRef).toEqual({ name: 'mesh-credentials', key: 'jwks_url' });
    const volumes = named(m, 'Deployment', '-admin')!.spec.template.spec.volumes as { name: string; secret?: { secretName: string } }[];
    expect(volumes.find((v) => v.name === 'nats-creds')?.secret?.secretName).toBe('mesh-credentials');
  },
  'external-nats-creds.yaml': (m) => {
    for (const component of ['-edge', '-registry', '-admin']) {
      const pod = named(m, 'Deployment', component)!.spec.template.spec;
      expect(envOf(pod.containers[0], 'MESH_NATS_CREDS_FILE')?.value).toBe('/etc/session-mesh/nats/nats.creds');
      const volume = (pod.volumes as { name: string; secret?: { secretName: string; items: { key: string }[] } }[]).find((v) => v.name === 'nats-creds');
      expect(volume?.secret).toMatchObject({ secretName: 'mesh-nats-user', items: [{ key: 'user.creds' }] });
    }
    expect(envOf(edgeContainer(m), 'MESH_JWT_PUBLIC_KEY_FILE')?.value).toBe('/etc/session-mesh/jwt/public-key.pem');
    expect(edgeContainer(m).image).toMatch(/^registry\.example\.com\/session-mesh@sha256:/);
  },
  'gateway-api.yaml': (m) => {
    const route = named(m, 'HTTPRoute', '-edge')!;
    expect(route.spec.rules[0].timeouts).toEqual({ request: '0s', backendRequest: '0s' });
    expect(route.spec.parentRefs[0]).toMatchObject({ name: 'public', namespace: 'gateway-system' });
  },
  'ingress.yaml': (m) => {
    const ingress = named(m, 'Ingress', '-edge')!;
    expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    expect(ingress.spec.tls[0].secretName).toBe('mesh-example-com-tls');
  },
};

describe.each(cases)('chart with %s', (name, valuesFiles) => {
  let manifests: Manifest[] = [];

  beforeAll(() => {
    const rendered = helmTemplate(valuesFiles);
    expect(rendered.stderr).toBe('');
    expect(rendered.status).toBe(0);
    const validated = validateManifests(rendered.stdout);
    // Fails with the validator's own lines (document, kind, name, field) when a template is wrong.
    expect(validated.stderr).toBe('');
    expect(validated.status).toBe(0);
    manifests = validated.manifests;
  }, 300_000);

  it('passes helm lint --strict', () => {
    const r = helmLint(valuesFiles);
    expect(`${r.stdout}${r.stderr}`).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  it('renders manifests the pinned Kubernetes API types accept', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(12);
  });

  it('passes every policy check', () => {
    expect(policyViolations(manifests, { secretValues: secretValuesOf(manifests) })).toEqual([]);
  });

  it('prints NOTES that tell how to connect, get a token and reach the admin API', () => {
    const r = helmNotes(valuesFiles);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Connect a WebSocket client/);
    expect(r.stdout).toMatch(/Mint a token|no token is needed|Tokens come from your identity provider/);
    expect(r.stdout).toContain('port-forward svc/mesh-session-mesh-admin 8081:8081');
    expect(r.stdout).toContain('helm test mesh -n realtime');
    if (name === 'bundled-nats.yaml') expect(r.stdout).toContain('for trying the chart out only');
  });

  it('renders what this values file is for', () => {
    const check = expectations[name];
    expect(check, `no expectations written for ${name}`).toBeDefined();
    check!(manifests);
  });
});
