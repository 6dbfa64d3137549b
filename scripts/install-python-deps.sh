#!/usr/bin/env bash
# Installs the Python side of the "backend in another language" example (nats-py) into a cached
# virtualenv and prints the interpreter to use as its last line. Idempotent.
set -euo pipefail
VENV="${MESH_CACHE_DIR:-$HOME/.cache/session-mesh}/py-venv"
REQ="$(cd "$(dirname "$0")/.." && pwd)/examples/python-backend/requirements.txt"
STAMP="$VENV/.requirements.sha"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
  echo "$want" > "$STAMP"
fi
echo "$VENV/bin/python"
