#!/usr/bin/env bash
# npm run bench: builds what the benchmark needs, runs bench/run.mjs, and stops every process it
# started, whatever happens (see docs/benchmarks.md for what is measured).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN_DIR="${HOME}/.cache/session-mesh/bin"
mkdir -p "$BIN_DIR"

say() { printf '[bench] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Every child the orchestrator starts is recorded here as "pid starttime"; the trap kills those that
# are still the same processes (start time checked, so a recycled pid is left alone).
PIDFILE="$(mktemp -t session-mesh-bench-pids.XXXXXX)"
export BENCH_PIDFILE="$PIDFILE"
cleanup() {
  local status=$?
  if [[ -s "$PIDFILE" ]]; then
    local pid start alive=()
    while read -r pid start; do
      [[ -r "/proc/$pid/stat" ]] || continue
      local now
      now="$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f20)"
      if [[ "$now" == "$start" ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        alive+=("$pid")
      fi
    done <"$PIDFILE"
    if ((${#alive[@]} > 0)); then
      say "stopping ${#alive[@]} leftover process(es): ${alive[*]}"
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        local any=0
        for pid in "${alive[@]}"; do [[ -d "/proc/$pid" ]] && any=1; done
        ((any == 0)) && break
        sleep 0.3
      done
      for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    fi
  fi
  rm -f "$PIDFILE"
  exit "$status"
}
trap cleanup EXIT
# The orchestrator runs in the background so that a SIGTERM or Ctrl-C reaches this script at once:
# it is forwarded, the orchestrator stops its children, then the EXIT trap sweeps what is left.
NODE_PID=""
forward() {
  if [[ -n "$NODE_PID" ]]; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  exit 130
}
trap forward INT TERM

# --- load generator: built once per version of its sources -----------------------------------
command -v go >/dev/null || die "Go is required to build bench/loadgen (https://go.dev; Debian: golang)"
HASH="$( (cd bench/loadgen && cat go.mod go.sum $(ls ./*.go | sort) && go version) | sha256sum | cut -c1-16)"
LOADGEN="$BIN_DIR/loadgen-$HASH"
if [[ ! -x "$LOADGEN" ]]; then
  say "building the load generator (bench/loadgen -> $LOADGEN)"
  (cd bench/loadgen && go build -trimpath -o "$LOADGEN.tmp.$$" .) || die "go build of bench/loadgen failed"
  mv "$LOADGEN.tmp.$$" "$LOADGEN"
fi
export BENCH_LOADGEN="$LOADGEN"

# --- nats-server -----------------------------------------------------------------------------
# install-nats-server.sh (when present) installs it if missing and prints its path as the last line.
NATS_BIN="${BENCH_NATS_SERVER:-}"
if [[ -z "$NATS_BIN" && -f scripts/install-nats-server.sh ]]; then
  NATS_BIN="$(bash scripts/install-nats-server.sh | tail -n 1)" || die "scripts/install-nats-server.sh failed"
fi
NATS_BIN="${NATS_BIN:-$BIN_DIR/nats-server}"
[[ -x "$NATS_BIN" ]] || die "no nats-server at $NATS_BIN (scripts/install-nats-server.sh installs it)"
export BENCH_NATS_SERVER="$NATS_BIN"

# --- edge --------------------------------------------------------------------------------------
if [[ "${BENCH_SKIP_EDGE:-0}" != "1" ]]; then
  say "building the edge (tsc -b services/edge)"
  if ! BUILD_LOG="$(npx --no-install tsc -b services/edge 2>&1)"; then
    printf '%s\n' "$BUILD_LOG" | tail -n 30 >&2
    die "the edge does not build (npx tsc -b services/edge); fix it or run the baseline alone with BENCH_SKIP_EDGE=1"
  fi
  [[ -f services/edge/dist/main.js ]] || die "services/edge/dist/main.js does not exist after the build: the edge has no entry point yet (BENCH_SKIP_EDGE=1 runs the baseline alone)"
fi

node bench/run.mjs "$@" &
NODE_PID=$!
set +e
wait "$NODE_PID"
STATUS=$?
set -e
NODE_PID=""
exit "$STATUS"
