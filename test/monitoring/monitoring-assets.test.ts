/**
 * deploy/monitoring is checked, not just shipped: the PrometheusRule's groups pass `promtool check
 * rules` and the unit tests in rules-test.yaml, the dashboard is well-formed for Grafana's sidecar,
 * and every metric name the rules or the dashboard query is one the real services export (scraped
 * from running edge, registry and admin processes).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTelemetryTopology, type TelemetryTopology } from './telemetry-topology.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const monitoring = join(repoRoot, 'deploy/monitoring');

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface PrometheusRule { apiVersion: string; kind: string; metadata: { name: string }; spec: { groups: Array<{ name: string; rules: Rule[] }> } }
interface Panel { type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string; datasource?: { uid: string } }>; gridPos: { h: number; w: number; x: number; y: number } }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Array<{ name: string; query: unknown }> } }

const rule = parse(readFileSync(join(monitoring, 'prometheus-rule.yaml'), 'utf8')) as PrometheusRule;
const dashboard = JSON.parse(readFileSync(join(monitoring, 'dashboards/session-mesh.json'), 'utf8')) as Dashboard;

/** Metric names in a PromQL expression: our families and Node's (every metric we export has one of these prefixes). */
const metricNames = (expr: string): string[] => [...expr.matchAll(/\b(?:mesh|process|nodejs)_[a-z0-9_]+\b/g)].map((m) => m[0]);

function promtool(): string {
  if (process.env['PROMTOOL_BIN']) return process.env['PROMTOOL_BIN'];
  const out = execFileSync('bash', [join(repoRoot, 'scripts/install-promtool.sh')], { encoding: 'utf8', timeout: 900_000 });
  return out.trim().split('\n').pop()!;
}

describe('PrometheusRule', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-rules-'));
    writeFileSync(join(dir, 'rules.yaml'), JSON.stringify({ groups: rule.spec.groups }));
    copyFileSync(join(monitoring, 'rules-test.yaml'), join(dir, 'rules-test.yaml'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a prometheus-operator PrometheusRule whose alerts all carry a severity and a summary', () => {
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.kind).toBe('PrometheusRule');
    const alerts = rule.spec.groups.flatMap((g) => g.rules);
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) {
      expect(a.alert, a.expr).toMatch(/^SessionMesh[A-Za-z]+$/);
      expect(['critical', 'warning']).toContain(a.labels?.['severity']);
      expect(a.annotations?.['summary'], a.alert).toBeTruthy();
    }
  });

  it('passes promtool check rules', () => {
    const out = execFileSync(promtool(), ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  }, 900_000);

  it('passes its promtool unit tests', () => {
    const out = execFileSync(promtool(), ['test', 'rules', join(dir, 'rules-test.yaml')], { encoding: 'utf8', cwd: dir });
    expect(out).toContain('SUCCESS');
  }, 900_000);
});

describe('Grafana dashboard', () => {
  it('is sidecar-ready JSON: a uid, a datasource variable every query uses, panels on a 24-column grid', () => {
    expect(dashboard.uid).toBe('session-mesh');
    expect(dashboard.templating.list.map((v) => v.name)).toContain('datasource');
    const graphs = dashboard.panels.filter((p) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const p of graphs) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(metricNames(t.expr).length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    const kustomization = parse(readFileSync(join(monitoring, 'kustomization.yaml'), 'utf8')) as { configMapGenerator: Array<{ files: string[]; options: { labels: Record<string, string> } }> };
    expect(kustomization.configMapGenerator[0]?.files).toEqual(['dashboards/session-mesh.json']);
    expect(kustomization.configMapGenerator[0]?.options.labels['grafana_dashboard']).toBe('1');
  });
});

describe('metric names used by rules and dashboard', () => {
  let topo: TelemetryTopology;
  beforeAll(async () => {
    topo = await startTelemetryTopology();
  }, 90_000);
  afterAll(async () => {
    await topo?.stop();
  });

  it('are all exported by the real services', async () => {
    const exported = new Set<string>();
    for (const service of [topo.edge, topo.registry, topo.admin]) for (const name of (await topo.scrape(service)).names()) exported.add(name);
    // Histograms expose _bucket/_sum/_count; a family with no observation yet still declares its TYPE.
    for (const name of [...exported]) for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
    const used = new Set([
      ...rule.spec.groups.flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr))),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))),
      ...dashboard.templating.list.flatMap((v) => metricNames(JSON.stringify(v.query))),
    ]);
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });
});
