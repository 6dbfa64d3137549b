#!/usr/bin/env bash
# Installs Debian's redis-server (the Socket.IO peer's adapter in `npm run bench`) when it is missing
# and prints its path as the LAST line. Exit status 1, with the reason on stderr, when it cannot be
# installed (not root, no apt-get, no package): the benchmark then names the peer as not run.
set -euo pipefail

LOG_DIR="${HOME}/.cache/session-mesh/bin"
mkdir -p "${LOG_DIR}"
LOG="${LOG_DIR}/redis-install.log"
if ! command -v redis-server >/dev/null && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  echo "install-redis: installing Debian's redis-server (log: ${LOG})" >&2
  apt-get install -y redis-server >"${LOG}" 2>&1 ||
    { apt-get update >>"${LOG}" 2>&1 && apt-get install -y redis-server >>"${LOG}" 2>&1; } || true
fi
if ! command -v redis-server >/dev/null; then
  echo "install-redis: redis-server is not installed and could not be (apt-get install -y redis-server; log: ${LOG})" >&2
  exit 1
fi
command -v redis-server
