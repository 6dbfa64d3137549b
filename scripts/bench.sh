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

# Short mode (`npm run bench -- --short` or BENCH_SHORT=1): every phase at tiny sizes, output to a
# temporary folder (bench/lib/short-mode.mjs). It does not build Centrifugo (about 5 minutes on 2
# cores): a cached build is used, otherwise the Centrifugo phases are named as not run.
for arg in "$@"; do [[ "$arg" == "--short" ]] && export BENCH_SHORT=1; done

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

# --- the shared kit (libs/testkit): bench/lib imports its build -----------------------------------
if ! BUILD_LOG="$(npx --no-install tsc -b libs/testkit 2>&1)"; then
  printf '%s\n' "$BUILD_LOG" | tail -n 30 >&2
  die "libs/testkit does not build (npx tsc -b libs/testkit)"
fi

# --- edge --------------------------------------------------------------------------------------
if [[ "${BENCH_SKIP_EDGE:-0}" != "1" ]]; then
  say "building the edge (tsc -b services/edge)"
  if ! BUILD_LOG="$(npx --no-install tsc -b services/edge 2>&1)"; then
    printf '%s\n' "$BUILD_LOG" | tail -n 30 >&2
    die "the edge does not build (npx tsc -b services/edge); fix it or run the baseline alone with BENCH_SKIP_EDGE=1"
  fi
  [[ -f services/edge/dist/main.js ]] || die "services/edge/dist/main.js does not exist after the build: the edge has no entry point yet (BENCH_SKIP_EDGE=1 runs the baseline alone)"
fi

# --- peers (bench/lib/peers.mjs) ----------------------------------------------------------------
# Installed only when a selected phase needs them. A peer that cannot be installed is not fatal: its
# reason goes to run.mjs (BENCH_*_MISSING), which names it in docs/benchmarks.md.
PHASES="${BENCH_PHASES:-socketio,centrifugo}"
if [[ "$PHASES" == *socketio* ]]; then
  if [[ -z "${BENCH_REDIS_SERVER:-}" ]]; then
    REDIS_ERR="$(mktemp)"
    if REDIS_OUT="$(bash scripts/install-redis.sh 2>"$REDIS_ERR")"; then
      export BENCH_REDIS_SERVER="$(printf '%s\n' "$REDIS_OUT" | tail -n 1)"
    else
      export BENCH_REDIS_MISSING="$(tail -n 1 "$REDIS_ERR")"
    fi
    rm -f "$REDIS_ERR"
  fi
  SIO=bench/peers/socketio
  STAMP="$SIO/node_modules/.lock-$(sha256sum "$SIO/package-lock.json" | cut -c1-16)"
  if [[ ! -f "$STAMP" ]]; then
    say "installing the Socket.IO peer's packages (npm ci in $SIO)"
    if (cd "$SIO" && npm ci --no-audit --no-fund --loglevel=error >&2); then
      touch "$STAMP"
    else
      say "npm ci in $SIO failed: the Socket.IO phases will report it"
    fi
  fi
fi
if [[ "$PHASES" == *centrifugo* && -z "${BENCH_CENTRIFUGO:-}" ]]; then
  say "Centrifugo: scripts/install-centrifugo.sh (cached; the first build takes about 5 minutes on 2 cores)"
  CF_ERR="$(mktemp)"
  CF_ARGS=()
  [[ "${BENCH_SHORT:-0}" == "1" ]] && CF_ARGS=(--cached-only)
  if CF_OUT="$(bash scripts/install-centrifugo.sh "${CF_ARGS[@]}" 2>"$CF_ERR")"; then
    export BENCH_CENTRIFUGO="$(printf '%s\n' "$CF_OUT" | tail -n 1)"
  else
    if ((${#CF_ARGS[@]} > 0)); then
      export BENCH_CENTRIFUGO_MISSING="$(tail -n 1 "$CF_ERR" | cut -c1-600)"
    else
      export BENCH_CENTRIFUGO_MISSING="scripts/install-centrifugo.sh failed: $(tail -n 5 "$CF_ERR" | tr '\n' ' ' | cut -c1-600)"
    fi
    say "$BENCH_CENTRIFUGO_MISSING"
  fi
  rm -f "$CF_ERR"
fi

node bench/run.mjs "$@" &
NODE_PID=$!
set +e
wait "$NODE_PID"
STATUS=$?
set -e
NODE_PID=""
exit "$STATUS"
