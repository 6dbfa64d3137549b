#!/usr/bin/env bash
# Long fuzzing of the protocol decoders (frames and id tokens), not part of `npm test`:
#   bash scripts/fuzz-decoders.sh [seed] [seconds per target]     e.g. bash scripts/fuzz-decoders.sh 1 300
# Drives fuzz/decoder-targets.mjs with fast-check (random and mutated inputs). The same targets are
# Jazzer.js fuzz targets (`fuzz(data)`), for machines where Jazzer.js runs (see docs/security.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh >/dev/null
npx tsc -b libs/protocol
node scripts/fuzz-decoders.mjs "${1:-$(date +%s)}" "${2:-60}"
