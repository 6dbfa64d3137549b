#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (test/client/browser.test.ts) and prints its path as
# the LAST line. Idempotent: an installed chromium is kept. `npx playwright install` cannot work here
# (it downloads its own browser builds); playwright-core drives this binary through executablePath.
set -euo pipefail
find_chromium() {
  for candidate in "${CHROMIUM_BIN:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [[ -n "${candidate}" && -x "${candidate}" ]]; then echo "${candidate}"; return 0; fi
  done
  return 1
}
if bin="$(find_chromium)"; then echo "${bin}"; exit 0; fi
log="$(mktemp)"
trap 'rm -f "${log}"' EXIT
# apt takes its own lock; flock keeps two of our scripts from racing on it.
if ! flock /tmp/apt.lock bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium' >"${log}" 2>&1; then
  echo "install-chromium: apt-get install chromium failed:" >&2
  tail -n 20 "${log}" >&2 || true
  exit 1
fi
find_chromium
