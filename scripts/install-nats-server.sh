#!/usr/bin/env bash
# Installs the nats-server the tests and local runs use, and prints its path as the LAST line.
# Idempotent: a cached binary of the right version is kept. Quiet on success apart from that line.
#
#   1. $HOME/.cache/session-mesh/bin/nats-server at v2.15.2, built with `go install` through the
#      Go module proxy (the first build takes minutes on 2 cores);
#   2. if the Go build fails: Debian's nats-server package (2.9.10), with a loud warning: 2.9
#      ignores per-message and per-key TTLs and rejects filter_subjects (2.10+).
set -euo pipefail

VERSION="2.15.2"
BIN_DIR="${HOME}/.cache/session-mesh/bin"
BIN="${BIN_DIR}/nats-server"

version_of() {
  # `nats-server --version` prints "nats-server: v2.15.2"
  "$1" --version 2>/dev/null | sed -n 's/^nats-server: v//p' | head -n 1
}

if [[ -x "${BIN}" && "$(version_of "${BIN}")" == "${VERSION}" ]]; then
  echo "${BIN}"
  exit 0
fi

log="$(mktemp)"
trap 'rm -f "${log}"' EXIT

if command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]]; then
  GO="$(command -v go || echo /usr/local/go/bin/go)"
  mkdir -p "${BIN_DIR}"
  if GOBIN="${BIN_DIR}" GOFLAGS="-trimpath" "${GO}" install "github.com/nats-io/nats-server/v2@v${VERSION}" >"${log}" 2>&1 \
    && [[ "$(version_of "${BIN}")" == "${VERSION}" ]]; then
    echo "${BIN}"
    exit 0
  fi
  echo "install-nats-server: 'go install nats-server v${VERSION}' failed:" >&2
  tail -n 20 "${log}" >&2 || true
else
  echo "install-nats-server: no Go toolchain found" >&2
fi

cat >&2 <<WARN
################################################################################
# WARNING: falling back to Debian's nats-server package (2.9.10), not v${VERSION}.
# 2.9 silently IGNORES per-message TTL and KV per-key TTL (2.11+) and REJECTS
# filter_subjects (2.10+). Tests relying on those will fail or lie.
################################################################################
WARN
if ! command -v nats-server >/dev/null 2>&1 || [[ "$(version_of "$(command -v nats-server)")" != 2.* ]]; then
  SUDO=""
  if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
  if ! { ${SUDO} apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y -qq nats-server; } >"${log}" 2>&1; then
    echo "install-nats-server: apt-get install nats-server failed:" >&2
    tail -n 20 "${log}" >&2 || true
    exit 1
  fi
fi
command -v nats-server
