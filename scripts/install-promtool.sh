#!/usr/bin/env bash
# Installs promtool (checks and unit-tests deploy/monitoring's PrometheusRule) and prints its path as
# the LAST line. Idempotent: a cached binary of the right version is kept. Built with `go install`
# through the Go module proxy (the first build takes several minutes on 2 cores; no fallback: Debian's
# prometheus package is older and the rule checks must not silently change).
set -euo pipefail

VERSION="0.316.0"
BIN_DIR="${HOME}/.cache/session-mesh/promtool-v${VERSION}"
BIN="${BIN_DIR}/promtool"

if [[ -x "${BIN}" ]] && "${BIN}" --version >/dev/null 2>&1; then
  echo "${BIN}"
  exit 0
fi

GO="$(command -v go || echo /usr/local/go/bin/go)"
if [[ ! -x "${GO}" ]]; then
  echo "install-promtool: no Go toolchain found" >&2
  exit 1
fi
log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
mkdir -p "${BIN_DIR}"
if ! GOBIN="${BIN_DIR}" GOFLAGS="-trimpath" "${GO}" install "github.com/prometheus/prometheus/cmd/promtool@v${VERSION}" >"${log}" 2>&1; then
  echo "install-promtool: 'go install promtool v${VERSION}' failed:" >&2
  tail -n 30 "${log}" >&2 || true
  exit 1
fi
echo "${BIN}"
