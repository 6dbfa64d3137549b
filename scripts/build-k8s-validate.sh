#!/usr/bin/env bash
# Builds tools/k8s-validate (strict decoding of manifests into the pinned k8s.io/api types) and
# prints the binary's path as the LAST line. Cached under $HOME/.cache/session-mesh/bin, keyed by a
# hash of the tool's sources and go.sum, so a rebuild happens only when they change.
set -euo pipefail
cd "$(dirname "$0")/../tools/k8s-validate"

key="$(cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)"
BIN_DIR="${HOME}/.cache/session-mesh/bin"
BIN="${BIN_DIR}/k8s-validate-${key}"
if [[ -x "${BIN}" ]]; then
  echo "${BIN}"
  exit 0
fi
GO="$(command -v go || echo /usr/local/go/bin/go)"
mkdir -p "${BIN_DIR}"
log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
# -mod=readonly: go.sum pins every module; a build never edits go.mod behind anyone's back.
if ! "${GO}" build -mod=readonly -trimpath -o "${BIN}.tmp" . >"${log}" 2>&1; then
  echo "build-k8s-validate: go build failed:" >&2
  tail -n 30 "${log}" >&2
  exit 1
fi
for old in "${BIN_DIR}"/k8s-validate-*; do [[ "${old}" == "${BIN}.tmp" ]] || rm -f "${old}"; done  # older builds
mv "${BIN}.tmp" "${BIN}"
echo "${BIN}"
