#!/usr/bin/env bash
# Command 2 of the README: installs what the tests need (npm packages, nats-server, nats-py), builds,
# and runs the whole suite: unit tests, bus conformance on both buses, integration tests against
# real nats-server processes (a 3-node cluster where clustering matters), and the Python backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
NATS_SERVER_BIN="$(bash scripts/install-nats-server.sh | tail -n 1)"
MESH_PYTHON="$(bash scripts/install-python-deps.sh | tail -n 1)"
export NATS_SERVER_BIN MESH_PYTHON
echo "nats-server: $("$NATS_SERVER_BIN" --version)   python: $("$MESH_PYTHON" --version)"
# Chart and image checks (test/chart): pinned helm, hadolint and the strict manifest validator, cached.
HELM_BIN="$(bash scripts/install-helm.sh | tail -n 1)"
HADOLINT_BIN="$(bash scripts/install-hadolint.sh | tail -n 1)"
K8S_VALIDATE_BIN="$(bash scripts/build-k8s-validate.sh | tail -n 1)"
export HELM_BIN HADOLINT_BIN K8S_VALIDATE_BIN
# deploy/monitoring checks (test/monitoring): promtool built from the Go module proxy, cached.
PROMTOOL_BIN="$(bash scripts/install-promtool.sh | tail -n 1)"
export PROMTOOL_BIN
# The client SDK's browser test (test/client): Debian's Chromium, driven by playwright-core; cached.
CHROMIUM_BIN="$(bash scripts/install-chromium.sh | tail -n 1)"
export CHROMIUM_BIN
# The bench's short mode (test/bench/bench-short.test.ts) runs the Socket.IO peer on Debian's redis-server;
# when it cannot be installed, that peer is reported as not run, with the reason.
if BENCH_REDIS_SERVER="$(bash scripts/install-redis.sh | tail -n 1)"; then export BENCH_REDIS_SERVER; else unset BENCH_REDIS_SERVER; fi
npm run -s build
npx tsc -p tsconfig.test.json   # the tests are type-checked too
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line (and a hard failure on skipped tests: CI must run everything).
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  process.stdout.write(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped\n`);
  if (skipped > 0) { process.stderr.write("skipped tests are not allowed in CI\n"); process.exit(1); }
' "$report" || status=1
exit "$status"
