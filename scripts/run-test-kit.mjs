// Runs a TypeScript entry point of the test kit (test/fault/...) through vite-node with the
// workspace aliases of vitest.config.ts, so long runs share test/support with the tests.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs `entry` (relative to the repository root) with `args`; returns its exit status. */
export function runTestKit(entry, args) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = spawnSync(process.execPath, ['node_modules/vite-node/vite-node.mjs', '--config', 'vitest.config.ts', entry, '--', ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  return result.status ?? 1;
}
