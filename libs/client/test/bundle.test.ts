/** The browser bundle stays small and free of Node-only code (built the way docs/client.md says). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

it('is under 8 KiB minified and gzipped, one ES module, with no Node built-ins and `ws` only behind a computed import', () => {
  const out = execFileSync(process.execPath, ['libs/client/scripts/bundle.mjs', '--json'], { cwd: root, encoding: 'utf8' });
  const size = JSON.parse(out) as { minifiedBytes: number; gzippedBytes: number };
  console.log(`client bundle: ${size.minifiedBytes} B minified, ${size.gzippedBytes} B gzipped`);
  expect(size.gzippedBytes).toBeLessThan(8 * 1024);
  const code = readFileSync(`${root}libs/client/dist/session-mesh-client.min.js`, 'utf8');
  expect(code).not.toMatch(/\brequire\(|from\s*["']node:|import\(["']/);
  expect(code).toMatch(/export\s*\{/);
});
