#!/usr/bin/env bash
# The black-box edge fuzzer (test/security/protocol-fuzz.test.ts), for longer than CI runs it:
#   bash scripts/fuzz-edge.sh [seed] [seconds]        e.g. bash scripts/fuzz-edge.sh 7 600
# Same cases for the same seed; prints cases, crashes and wrong answers per category, and the first
# problems with their bytes. Exits non-zero when the edge crashed or answered wrongly.
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-$(date +%s)}"
seconds="${2:-300}"
[[ "$seed" =~ ^[0-9]+$ && "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [seed] [seconds] (non-negative integers)" >&2; exit 2; }
bash scripts/ensure-deps.sh >/dev/null
NATS_SERVER_BIN="$(bash scripts/install-nats-server.sh | tail -n 1)"
export NATS_SERVER_BIN
npx tsc -b services/edge
report="${FUZZ_EDGE_REPORT:-${TMPDIR:-/tmp}/fuzz-edge-$seed.json}"
echo "edge fuzz: seed $seed for $seconds s (every problem found goes to $report)"
FUZZ_EDGE_REPORT="$report" FUZZ_EDGE_SEED="$seed" FUZZ_EDGE_DURATION_S="$seconds" npx vitest run test/security/protocol-fuzz.test.ts --reporter=default
