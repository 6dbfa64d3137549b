#!/usr/bin/env bash
# Runs the chart and image checks alone (CI runs the same tests inside `npm test`):
# helm lint --strict and helm template with the default and every charts/session-mesh/ci/*.yaml
# values file, strict decoding of the manifests into the pinned Kubernetes API types
# (tools/k8s-validate), the policy checks, the values-schema refusals, hadolint and the
# Dockerfile's build stage run in a scratch folder. Tools are pinned and cached under
# $HOME/.cache/session-mesh; nothing downloads a chart.
set -euo pipefail
cd "$(dirname "$0")/.."
HELM_BIN="$(bash scripts/install-helm.sh | tail -n 1)"
HADOLINT_BIN="$(bash scripts/install-hadolint.sh | tail -n 1)"
K8S_VALIDATE_BIN="$(bash scripts/build-k8s-validate.sh | tail -n 1)"
export HELM_BIN HADOLINT_BIN K8S_VALIDATE_BIN
echo "helm: $("$HELM_BIN" version --template '{{.Version}}')   hadolint: $("$HADOLINT_BIN" --version)"
exec npx vitest run test/chart "$@"
