import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import workspace packages from source, so `vitest` works without a build; tests that spawn
// service processes use the built dist/ (scripts/test.sh builds first).
export default defineConfig({
  resolve: {
    alias: {
      '@session-mesh/protocol': here('./libs/protocol/src/index.ts'),
      '@session-mesh/runtime': here('./libs/runtime/src/index.ts'),
      '@session-mesh/bus': here('./libs/bus/src/index.ts'),
      '@session-mesh/auth': here('./libs/auth/src/index.ts'),
      '@session-mesh/client': here('./libs/client/src/index.ts'),
      '@session-mesh/testkit': here('./libs/testkit/src/index.ts'),
      '@session-mesh/edge': here('./services/edge/src/index.ts'),
      '@session-mesh/registry': here('./services/registry/src/index.ts'),
      '@session-mesh/admin': here('./services/admin/src/index.ts'),
    },
  },
  test: {
    include: ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: integration files start NATS servers and service processes of their own.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
    reporters: ['default'],
  },
});
