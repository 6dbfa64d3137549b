/**
 * tools/k8s-validate decodes manifests the way the API server does (pinned k8s.io/api types,
 * case-sensitive fields, unknown and duplicate fields refused): each case feeds one kind of
 * mistake and expects a failure naming the document and the field.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, helmTemplate, validateManifests } from './support/chart-tools.js';

const valid = readFileSync(`${fixturesDir}deployment.yaml`, 'utf8');

/** The valid fixture with `from` replaced by `to` (which must be present exactly once). */
function broken(from: string, to: string): string {
  expect(valid.split(from)).toHaveLength(2);
  return valid.replace(from, to);
}

describe('strict manifest validation', () => {
  it('accepts the valid fixture and returns its documents', () => {
    const r = validateManifests(valid);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(['Deployment/fixture-edge', 'Service/fixture-edge']);
  });

  it.each([
    ['a wrong type (string for an integer)', broken('replicas: 3', 'replicas: "three"'), /Deployment fixture-edge: .*cannot unmarshal string into Go struct field .*replicas of type int32/],
    ['a wrong type (string for a list)', broken('imagePullPolicy: IfNotPresent', 'imagePullPolicy: IfNotPresent\n          command: node main.js'), /cannot unmarshal string into Go struct field .*command of type \[\]string/],
    ['a misspelled field', broken('imagePullPolicy: IfNotPresent', 'imagePullPolice: IfNotPresent'), /unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolice"/],
    ['a field in the wrong case', broken('readinessProbe:', 'ReadinessProbe:'), /unknown field "spec\.template\.spec\.containers\[0\]\.ReadinessProbe"/],
    ['a field at the wrong level', broken('  replicas: 3', '  replicas: 3\n  terminationGracePeriodSeconds: 30'), /unknown field "spec\.terminationGracePeriodSeconds"/],
    ['a duplicated key', broken('      port: 80', '      port: 80\n      port: 8080'), /key "port" already set in map/],
    ['an invalid quantity', broken('memory: 2Gi', 'memory: 2 GB'), /quantities must match the regular expression/],
    ['an API version Kubernetes removed', broken('apiVersion: apps/v1', 'apiVersion: extensions/v1beta1'), /extensions\/v1beta1 "Deployment" is not a kind this validator knows/],
    ['a port name longer than 15 characters', broken('- name: ws\n              containerPort', '- name: websocket-public\n              containerPort'), /port name "websocket-public": must be no more than 15 characters/],
    ['an invalid object name', broken('name: fixture-edge\n  labels', 'name: Fixture_Edge\n  labels'), /metadata\.name "Fixture_Edge"/],
  ])('refuses %s', (_name, manifest, expected) => {
    const r = validateManifests(manifest);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).toMatch(/\(document \d\)/);
  });

  describe('on the rendered chart', () => {
    let rendered = '';
    beforeAll(() => {
      const r = helmTemplate();
      expect(r.status).toBe(0);
      rendered = r.stdout;
    }, 300_000);

    it('names the template of a misspelled field', () => {
      const mistake = rendered.replace('terminationGracePeriodSeconds:', 'terminationGracePeriodSecond:');
      expect(mistake).not.toBe(rendered);
      const r = validateManifests(mistake);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^session-mesh\/templates\/\S+\.yaml \(document \d+\): Deployment mesh-session-mesh-\w+: unknown field "spec\.template\.spec\.terminationGracePeriodSecond"/m);
    });

    it('names the template of a wrong type', () => {
      const mistake = rendered.replace(/containerPort: 8080/, 'containerPort: "8080"');
      expect(mistake).not.toBe(rendered);
      const r = validateManifests(mistake);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/templates\/edge\/deployment\.yaml \(document \d+\): Deployment mesh-session-mesh-edge: .*containerPort of type int32/);
    });
  });
});
