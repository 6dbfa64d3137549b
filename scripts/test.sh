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
npm run -s build
exec npx vitest run "$@"
