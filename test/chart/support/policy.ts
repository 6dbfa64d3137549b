/**
 * Policy checks over rendered manifests: what strict decoding cannot see (every field is typed
 * right, yet a pod runs as root or an edge is killed mid-drain). Pure functions of the manifests;
 * each returns one readable line per violation, naming the object.
 */
import type { Manifest } from './chart-tools.js';

/* The shapes read here, loosely: rendered objects are already strictly decoded by k8s-validate. */
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Port {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet?: { path?: string; port: string | number };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: unknown };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
}
interface PodTemplate {
  labels: Record<string, string>;
  spec: PodSpec;
}

/** What the values file declared as secret: none of it may appear outside a Secret. */
export interface PolicyContext {
  readonly secretValues: readonly string[];
}

/** The services' own default when MESH_SHUTDOWN_TIMEOUT_MS is unset (libs/runtime service-env). */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** Variables that carry credentials: only ever from a Secret (valueFrom) or a mounted file. */
const SECRET_ENV = /(SECRET|PASSWORD|TOKENS?|CREDS|CREDENTIALS|PRIVATE_KEY|PUBLIC_KEY|JWKS_URL)$/;

/** Variables naming a port a service listens on, and the container port name that must match. */
const LISTEN_PORTS: readonly [string, string][] = [
  ['MESH_OPS_PORT', 'ops'],
  ['MESH_EDGE_PORT', 'ws'],
  ['MESH_ADMIN_PORT', 'admin'],
];

const id = (m: Manifest): string => `${m.kind}/${m.metadata.name}`;
const isHook = (m: Manifest): boolean => m.metadata.annotations?.['helm.sh/hook'] !== undefined;

function podTemplateOf(m: Manifest): PodTemplate | undefined {
  if (m.kind === 'Deployment' || m.kind === 'StatefulSet') {
    return { labels: m.spec.template.metadata?.labels ?? {}, spec: m.spec.template.spec as PodSpec };
  }
  if (m.kind === 'Pod') return { labels: m.metadata.labels ?? {}, spec: m.spec as PodSpec };
  return undefined;
}

function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

function envNumber(c: Container, name: string): number | undefined {
  const v = c.env?.find((e) => e.name === name)?.value;
  return v === undefined ? undefined : Number(v);
}

/** Non-root, read-only root filesystem, no escalation, all capabilities dropped, seccomp. */
export function securityViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    const pod = podTemplateOf(m);
    if (!pod) continue;
    const psc = pod.spec.securityContext ?? {};
    for (const c of allContainers(pod.spec)) {
      const sc = c.securityContext ?? {};
      const where = `${id(m)} container ${c.name}`;
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) out.push(`${where}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? psc.runAsUser) === 0) out.push(`${where}: runs as uid 0`);
      if (sc.readOnlyRootFilesystem !== true) out.push(`${where}: root filesystem is not read-only`);
      if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
      if (sc.privileged === true) out.push(`${where}: privileged`);
      if (!sc.capabilities?.drop?.includes('ALL')) out.push(`${where}: capabilities are not all dropped`);
      if ((sc.capabilities?.add ?? []).length > 0) out.push(`${where}: adds capabilities ${sc.capabilities?.add?.join(',')}`);
      const seccomp = (sc.seccompProfile ?? psc.seccompProfile)?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${where}: no seccomp profile (RuntimeDefault or Localhost)`);
      if (/:latest$/.test(c.image) || !/[:@]/.test(c.image.split('/').at(-1) ?? '')) out.push(`${where}: image ${c.image} has no pinned tag or digest`);
    }
    if (pod.spec.automountServiceAccountToken !== false) out.push(`${id(m)}: mounts a service account token it never uses`);
  }
  return out;
}

/** Requests (cpu, memory) and a memory limit on every container; probes on every workload. */
export function resourceAndProbeViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    const pod = podTemplateOf(m);
    if (!pod) continue;
    for (const c of allContainers(pod.spec)) {
      const where = `${id(m)} container ${c.name}`;
      if (!c.resources?.requests?.cpu || !c.resources.requests.memory) out.push(`${where}: cpu and memory requests not set`);
      if (!c.resources?.limits?.memory) out.push(`${where}: no memory limit`);
      if (isHook(m)) continue; // a helm test pod runs once and exits: no probes
      for (const kind of ['readinessProbe', 'livenessProbe'] as const) {
        const probe = c[kind];
        if (!probe) {
          out.push(`${where}: no ${kind}`);
          continue;
        }
        const port = probe.httpGet?.port;
        if (typeof port === 'string' && !c.ports?.some((p) => p.name === port)) out.push(`${where}: ${kind} uses port ${port}, which the container does not declare`);
      }
    }
  }
  return out;
}

/**
 * Numeric service variables are plain integers: Helm reads YAML numbers as floats and prints large
 * ones as 1.048576e+06, which the services refuse at start-up (exit 2).
 */
export function configViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    const pod = podTemplateOf(m);
    if (!pod) continue;
    for (const c of allContainers(pod.spec)) {
      // The port a service listens on and the container port probes and Services use must agree.
      for (const [variable, portName] of LISTEN_PORTS) {
        const value = c.env?.find((e) => e.name === variable)?.value;
        const declared = c.ports?.find((p) => p.name === portName)?.containerPort;
        if (value !== undefined && String(declared) !== value) out.push(`${id(m)} container ${c.name}: ${variable}=${value} but container port ${portName} is ${declared ?? 'missing'}`);
      }
      for (const e of c.env ?? []) {
        if (/^MESH_.*_(MS|S|BYTES|PORT|REPLICAS)$/.test(e.name) && e.value !== undefined && !/^\d+$/.test(e.value)) {
          out.push(`${id(m)} container ${c.name}: ${e.name}=${e.value} is not a plain integer`);
        }
      }
    }
  }
  return out;
}

/** No credential in a ConfigMap or an env literal: by variable name and by the values' secrets. */
export function secretLeakViolations(manifests: readonly Manifest[], context: PolicyContext): string[] {
  const out: string[] = [];
  const secrets = context.secretValues.filter((s) => s.length >= 8);
  const leaks = (text: string): boolean => secrets.some((s) => text.includes(s));
  for (const m of manifests) {
    if (m.kind === 'Secret') continue;
    if (m.kind === 'ConfigMap') {
      for (const [key, value] of Object.entries(m.data ?? {})) {
        if (SECRET_ENV.test(key.toUpperCase().replace(/[-.]/g, '_')) || leaks(value)) out.push(`${id(m)}: key ${key} holds a secret`);
      }
    }
    const pod = podTemplateOf(m);
    if (pod) {
      for (const c of allContainers(pod.spec)) {
        for (const e of c.env ?? []) {
          if (e.value === undefined) continue;
          if (SECRET_ENV.test(e.name)) out.push(`${id(m)} container ${c.name}: ${e.name} is a literal; credentials come from a Secret`);
          else if (leaks(e.value)) out.push(`${id(m)} container ${c.name}: ${e.name} holds a secret value as a literal`);
        }
      }
    }
    // Anything else rendered (annotations, args, ...) must not carry a secret either.
    const { data: _data, ...rest } = m;
    if (leaks(JSON.stringify(rest))) out.push(`${id(m)}: a secret value appears in the manifest`);
  }
  return out;
}

/**
 * The edge drains on SIGTERM (readiness off and 503 for the delay, then closes spread over the
 * spread): its watchdog must outlast the drain and Kubernetes' grace period must outlast the
 * watchdog, or pods are killed mid-drain and clients reconnect all at once. Every other workload:
 * grace period longer than its shutdown watchdog.
 */
export function drainViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    if (m.kind !== 'Deployment') continue;
    const pod = podTemplateOf(m)!;
    const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
    for (const c of pod.spec.containers) {
      const where = `${id(m)} container ${c.name}`;
      const shutdownMs = envNumber(c, 'MESH_SHUTDOWN_TIMEOUT_MS') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
      if (grace * 1000 <= shutdownMs) out.push(`${where}: terminationGracePeriodSeconds ${grace} s is not longer than MESH_SHUTDOWN_TIMEOUT_MS ${shutdownMs} ms`);
      if (pod.labels['app.kubernetes.io/component'] !== 'edge') continue;
      const delay = envNumber(c, 'MESH_DRAIN_DELAY_MS');
      const spread = envNumber(c, 'MESH_DRAIN_SPREAD_MS');
      if (delay === undefined || spread === undefined) {
        out.push(`${where}: MESH_DRAIN_DELAY_MS and MESH_DRAIN_SPREAD_MS must be set`);
        continue;
      }
      if (shutdownMs <= delay + spread) out.push(`${where}: MESH_SHUTDOWN_TIMEOUT_MS ${shutdownMs} ms does not outlast the drain (${delay} + ${spread} ms)`);
      if (grace * 1000 <= delay + spread) out.push(`${where}: terminationGracePeriodSeconds ${grace} s is shorter than the drain`);
      if (!c.lifecycle?.preStop) out.push(`${where}: no preStop hook`);
    }
  }
  return out;
}

/**
 * PDBs select exactly one workload and leave room to evict (minAvailable below its replicas);
 * every Deployment with 2+ replicas has one; an HPA's target exists and leaves replicas to it.
 */
export function disruptionViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  const deployments = manifests.filter((m) => m.kind === 'Deployment');
  const hpas = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler');
  const pdbs = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
  const replicasOf = (d: Manifest): number => {
    const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name);
    return hpa ? (hpa.spec.minReplicas as number) : ((d.spec.replicas as number | undefined) ?? 1);
  };
  for (const h of hpas) {
    const target = deployments.find((d) => d.metadata.name === h.spec.scaleTargetRef.name);
    if (!target) out.push(`${id(h)}: targets ${h.spec.scaleTargetRef.name}, which is not rendered`);
    else if (target.spec.replicas !== undefined) out.push(`${id(target)}: sets replicas although ${id(h)} owns them (every upgrade would reset the scale)`);
    if (h.spec.minReplicas > h.spec.maxReplicas) out.push(`${id(h)}: minReplicas above maxReplicas`);
  }
  for (const p of pdbs) {
    const selected = deployments.filter((d) => matches(p.spec.selector?.matchLabels, podTemplateOf(d)!.labels));
    if (selected.length !== 1) {
      out.push(`${id(p)}: selects ${selected.length} Deployments, expected exactly 1`);
      continue;
    }
    const replicas = replicasOf(selected[0]!);
    const { minAvailable, maxUnavailable } = p.spec as { minAvailable?: number | string; maxUnavailable?: number | string };
    const percent = (v: string): number => Number(v.replace('%', ''));
    if (typeof minAvailable === 'number' && minAvailable >= replicas) out.push(`${id(p)}: minAvailable ${minAvailable} with ${replicas} replicas blocks every eviction`);
    if (typeof minAvailable === 'string' && percent(minAvailable) >= 100) out.push(`${id(p)}: minAvailable ${minAvailable} blocks every eviction`);
    if (typeof maxUnavailable === 'number' && maxUnavailable < 1) out.push(`${id(p)}: maxUnavailable ${maxUnavailable} blocks every eviction`);
    if (typeof maxUnavailable === 'string' && percent(maxUnavailable) <= 0) out.push(`${id(p)}: maxUnavailable ${maxUnavailable} blocks every eviction`);
  }
  for (const d of deployments) {
    if (replicasOf(d) < 2) continue;
    if (!pdbs.some((p) => matches(p.spec.selector?.matchLabels, podTemplateOf(d)!.labels))) out.push(`${id(d)}: ${replicasOf(d)} replicas and no PodDisruptionBudget`);
  }
  return out;
}

/** Services, routes, ServiceMonitors and NetworkPolicies point at things that exist. */
export function wiringViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  const pods = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet').map((m) => podTemplateOf(m)!);
  const services = manifests.filter((m) => m.kind === 'Service');
  for (const s of services) {
    const selected = pods.filter((p) => matches(s.spec.selector, p.labels));
    if (selected.length === 0) out.push(`${id(s)}: selects no pods`);
    for (const port of s.spec.ports as { name: string; targetPort: string | number }[]) {
      if (typeof port.targetPort !== 'string') continue;
      if (!selected.every((p) => p.spec.containers.some((c) => c.ports?.some((cp) => cp.name === port.targetPort)))) out.push(`${id(s)}: targetPort ${port.targetPort} is not a container port of the selected pods`);
    }
  }
  const servicePort = (name: string, port: string | number): boolean =>
    services.some((s) => s.metadata.name === name && (s.spec.ports as { name: string; port: number }[]).some((p) => p.name === port || p.port === port));
  for (const m of manifests) {
    if (m.kind === 'Ingress') {
      for (const rule of m.spec.rules ?? []) {
        for (const path of rule.http?.paths ?? []) {
          const svc = path.backend.service;
          if (!servicePort(svc.name, svc.port.name ?? svc.port.number)) out.push(`${id(m)}: backend ${svc.name}:${svc.port.name ?? svc.port.number} does not exist`);
        }
      }
    }
    if (m.kind === 'HTTPRoute') {
      for (const rule of m.spec.rules ?? []) {
        for (const ref of rule.backendRefs ?? []) if (!servicePort(ref.name, ref.port)) out.push(`${id(m)}: backendRef ${ref.name}:${ref.port} does not exist`);
      }
    }
    if (m.kind === 'ServiceMonitor') {
      const selected = services.filter((s) => matches(m.spec.selector.matchLabels, s.metadata.labels ?? {}));
      if (selected.length === 0) out.push(`${id(m)}: selects no Service`);
      for (const ep of m.spec.endpoints) {
        if (!selected.every((s) => (s.spec.ports as { name: string }[]).some((p) => p.name === ep.port))) out.push(`${id(m)}: endpoint port ${ep.port} missing on a selected Service`);
      }
    }
    if (m.kind === 'NetworkPolicy' && !pods.some((p) => matches(m.spec.podSelector.matchLabels, p.labels))) out.push(`${id(m)}: selects no pods`);
  }
  return out;
}

/** Everything the rendered Secrets hold (decoded): none of it may show up anywhere else. */
export function secretValuesOf(manifests: readonly Manifest[]): string[] {
  return manifests
    .filter((m) => m.kind === 'Secret')
    .flatMap((m) => [
      ...Object.values(m.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8')),
      ...Object.values(m.stringData ?? {}),
    ])
    .flatMap((v) => [v, ...v.split(',')]);
}

export function policyViolations(manifests: readonly Manifest[], context: PolicyContext): string[] {
  return [
    ...securityViolations(manifests),
    ...resourceAndProbeViolations(manifests),
    ...configViolations(manifests),
    ...secretLeakViolations(manifests, context),
    ...drainViolations(manifests),
    ...disruptionViolations(manifests),
    ...wiringViolations(manifests),
  ];
}
