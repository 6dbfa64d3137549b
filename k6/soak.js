// @ts-check
// Connect and hold (soak): every VU opens CONNECTIONS_PER_VU sessions, holds them for DURATION, and
// every PROBE_INTERVAL_MS pushes one probe to one of them through the admin API, to prove that a
// session held for a long time still receives. Fails on failed connects, sessions the server
// closed, lost probes, and slow welcomes or probes (p95/p99).
import { holdAndPushScript } from './lib/hold-and-push.js';
import { welcomeThresholds } from './lib/mesh.js';

const script = holdAndPushScript({
  role: 'soak',
  VUS: 10,
  DURATION: '10m',
  CONNECT_SPREAD: '10s',
  CONNECTIONS_PER_VU: 100,
  intervalVariable: 'PROBE_INTERVAL_MS',
  interval: 5000,
  PUSH_P95_MS: 100,
  PUSH_P99_MS: 250,
  thresholds: welcomeThresholds(),
});

export const options = script.options;
export const setup = script.setup;
export default script.run;
