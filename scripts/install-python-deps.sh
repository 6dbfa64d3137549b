#!/usr/bin/env bash
# Installs the Python packages the tests use into a cached virtualenv and prints the interpreter to
# use as its last line. Idempotent (reinstalls only when a requirements file changed):
# - nats-py: the "backend in another language" example (examples/python-backend);
# - schemathesis: drives the admin API from its published OpenAPI document (test/security).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${MESH_CACHE_DIR:-$HOME/.cache/session-mesh}/py-venv"
REQS=("$ROOT/examples/python-backend/requirements.txt" "$ROOT/services/admin/test/schemathesis/requirements.txt")
STAMP="$VENV/.requirements.sha"
want="$(cat "${REQS[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$VENV" >&2
  args=()
  for req in "${REQS[@]}"; do args+=(-r "$req"); done
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${args[@]}" >&2
  echo "$want" > "$STAMP"
fi
echo "$VENV/bin/python"
