#!/usr/bin/env bash
# Command 1 of the README: from a fresh clone to a running single-process mesh (edge, registry and
# admin API on the embedded bus). Prints where to connect, how to mint a token and how to push.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run -s build
exec node services/mesh/dist/main.js
