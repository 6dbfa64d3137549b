#!/usr/bin/env bash
# Installs Centrifugo (a peer in `npm run bench`) and prints its path as the LAST line.
# Idempotent: the cached binary is kept; it is built once with `go install` through the Go module proxy
# (about 5 minutes on 2 cores). Go 1.26 builds it with version "0.0.0" (no ldflags), so the cache is
# keyed by the requested version in the file name, not by `centrifugo version`.
# Exit status 1 (with the reason on stderr) when it cannot be built: the benchmark then names the
# peer as not built, with that reason.
set -euo pipefail

VERSION="${CENTRIFUGO_VERSION:-6.9.1}"
BIN_DIR="${HOME}/.cache/session-mesh/bin"
BIN="${BIN_DIR}/centrifugo-v${VERSION}"

if [[ -x "${BIN}" ]] && "${BIN}" version >/dev/null 2>&1; then
  echo "${BIN}"
  exit 0
fi

# --cached-only: use a cached build, never start one (the bench's short mode, in CI: a 5-minute build
# is not a check of the bench).
if [[ "${1:-}" == "--cached-only" ]]; then
  echo "the short mode uses a cached build only and there is none (building takes about 5 minutes on 2 cores; a full \`npm run bench\` builds it once into ${BIN_DIR})" >&2
  exit 1
fi

GO="$(command -v go || true)"
[[ -n "${GO}" || ! -x /usr/local/go/bin/go ]] || GO=/usr/local/go/bin/go
if [[ -z "${GO}" ]]; then
  echo "install-centrifugo: no Go toolchain found (Centrifugo is built from source with go install)" >&2
  exit 1
fi

mkdir -p "${BIN_DIR}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# Build into a private GOBIN then move: two concurrent installs never leave a half-written binary.
if ! GOBIN="${work}" GOFLAGS="-trimpath" "${GO}" install "github.com/centrifugal/centrifugo/v6@v${VERSION}" >"${work}/log" 2>&1; then
  echo "install-centrifugo: 'go install github.com/centrifugal/centrifugo/v6@v${VERSION}' failed:" >&2
  tail -n 20 "${work}/log" >&2 || true
  exit 1
fi
mv -f "${work}/centrifugo" "${BIN}"
echo "${BIN}"
