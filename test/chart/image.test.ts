/**
 * The container image without a Docker engine: hadolint on the Dockerfile, and the build stage's
 * own steps run in a scratch folder from a clean copy of the build context
 * (scripts/check-image-build.mjs), ending with every service starting from the pruned install.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir, hadolintBin, repoRoot, run } from './support/chart-tools.js';

const hadolint = (file: string) => run(hadolintBin(), ['--no-color', '--failure-threshold', 'style', file]);
const checkImageBuild = (...args: string[]) => run(process.execPath, [`${repoRoot}scripts/check-image-build.mjs`, ...args]);

describe('container image', () => {
  it('Dockerfile passes hadolint at its strictest threshold', () => {
    const r = hadolint(`${repoRoot}Dockerfile`);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('hadolint reports a Dockerfile with the usual mistakes', () => {
    const r = hadolint(`${fixturesDir}Dockerfile.bad`);
    expect(r.status).toBe(1);
    for (const rule of ['DL3007', 'DL3000', 'DL3002', 'DL3025']) expect(r.stdout).toContain(rule);
  });

  it('the build-stage check refuses instructions it cannot emulate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockerfile-'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM node:20-bookworm-slim AS build\nWORKDIR /app\nADD https://example.com/x.tgz /tmp/\nFROM node:20-bookworm-slim\nUSER 1000\nCMD ["node", "x.js"]\n',
    );
    const r = checkImageBuild('--dockerfile', join(dir, 'Dockerfile'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('line 3: ADD is not emulated in the build stage');
  });

  it('the build stage installs, builds and prunes from a clean copy, and every service starts from it', () => {
    const r = checkImageBuild();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('uWebSockets.js native binary loaded');
    for (const service of ['edge', 'registry', 'admin']) {
      expect(r.stdout).toContain(`services/${service}/dist/main.js: starts from the pruned install`);
    }
  }, 600_000);
});
