#!/usr/bin/env bash
# Installs npm dependencies when node_modules is missing or older than the lock file, and checks
# the Node.js major version the uWebSockets.js binary needs. Sourced by quickstart.sh and test.sh.
set -euo pipefail
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" != "20" ]; then
  echo "Session Mesh needs Node.js 20 (its uWebSockets.js binary is built for ABI 115); found $(node -v)." >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm ci` refuses this lock file: the registry mirror lists no other-platform optional packages
  # (rollup, esbuild), so npm cannot record them. `npm install` honours the lock as far as it goes.
  npm install --no-audit --no-fund --loglevel=error
fi
