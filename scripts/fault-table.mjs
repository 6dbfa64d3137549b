#!/usr/bin/env node
// The fault table of docs/reliability.md: builds the real topology on loopback (3-node NATS cluster
// with JetStream, 2 edges, 2 registry replicas, the admin API, N clients, numbered pushes), injects
// every fault of issue 9 and prints the counts. Needs a build first (npm run build) and a
// nats-server (scripts/install-nats-server.sh). About 10 minutes with 200 clients.
//   node scripts/fault-table.mjs [--clients 200] [--only "<fault name part>"] [--json out.json]
// The code lives in test/fault/ (TypeScript, shared with the CI form test/integration/fault-table.test.ts)
// and runs through vite-node with the workspace aliases of vitest.config.ts.
import { runTestKit } from './run-test-kit.mjs';

process.exit(runTestKit('test/fault/cli.ts', process.argv.slice(2)));
