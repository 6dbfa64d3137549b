// The short mode of npm run bench (BENCH_SHORT=1 or `npm run bench -- --short`): every default phase
// at tiny sizes, so CI can check that each scenario still runs and produces plausible figures
// (test/bench/bench-short.test.ts). Its figures are not benchmarks; its output goes to a temporary
// folder, never over bench/results/latest.json or docs/benchmarks.md.
//
// The sizes are defaults by environment name: run.mjs reads every setting through envValue(), so a
// phase whose size comes from the cfg block gets its short size from here; an explicit environment
// variable still wins.

export const SHORT_SIZES = {
  BENCH_CONNS: '300',
  BENCH_PUSH_USERS_PER_EDGE: '150',
  BENCH_PUSH_SECONDS: '2',
  BENCH_RAW_PUSH_SECONDS: '1',
  BENCH_STORM_CONNS: '300',
  BENCH_LATENCY_RATES: '2000,4000',
  BENCH_PEER_LATENCY_RATES: '2000,4000',
  BENCH_LATENCY_SECONDS: '1',
  BENCH_BROADCAST_SOCKETS: '300',
  BENCH_BROADCAST_BURST: '10',
  BENCH_CAPACITY_CONNS: '3000',
  BENCH_CAPACITY_EDGES: '2',
  BENCH_CAPACITY_FILL: '500',
  BENCH_PROPAGATION_KILLS: '10',
  BENCH_PROPAGATION_BLACKLISTS: '10',
  BENCH_CHURN_SECONDS: '10',
  BENCH_CHURN_RATE: '50',
  BENCH_CHURN_HELD: '200',
  BENCH_CHURN_SOCKETS: '100',
  // No waiting for a quiet machine: CI runs the bench next to other tests, and measures nothing here.
  BENCH_LOAD_WAIT_S: '0',
  BENCH_LOAD_WAIT_TOTAL_S: '0',
  BENCH_QUIET_MAX_MS: '1000',
  BENCH_PUSH_WARMUP: '2000',
};

/** True when the bench runs in its short mode. */
export function isShort(env, argv) {
  return env.BENCH_SHORT === '1' || argv.includes('--short');
}

/** An environment setting: its value when set, else its short-mode default (short mode only), else undefined. */
export function envLookup(env, short) {
  return (name) => (env[name] !== undefined && env[name] !== '' ? env[name] : short ? SHORT_SIZES[name] : undefined);
}
