#!/usr/bin/env node
// The soak of docs/reliability.md: the real topology (3-node NATS cluster, 2 edges, 2 registry
// replicas, the admin API) under thousands of sessions, steady numbered pushes and churn for
// minutes, with every process's memory sampled. Needs a build first (npm run build) and a
// nats-server (scripts/install-nats-server.sh). The CI form is test/integration/soak.test.ts.
//   node scripts/soak.mjs [--sessions 4000] [--minutes 10] [--json out.json]
import { runTestKit } from './run-test-kit.mjs';

process.exit(runTestKit('test/fault/soak-cli.ts', process.argv.slice(2)));
