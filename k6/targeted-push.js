// @ts-check
// Targeted-push latency: every VU holds CONNECTIONS_PER_VU sessions and, acting as a backend,
// publishes one push every PUSH_INTERVAL_MS through the admin API (POST /v1/users/{user}/push with
// the session id), each to the next of its sessions. The payload carries its send time; the VU adds
// receipt minus send time to push_latency. Offered rate: VUS * 1000 / PUSH_INTERVAL_MS pushes/s.
import { holdAndPushScript } from './lib/hold-and-push.js';

const script = holdAndPushScript({
  role: 'push',
  VUS: 20,
  DURATION: '1m',
  CONNECT_SPREAD: '1s',
  CONNECTIONS_PER_VU: 5,
  intervalVariable: 'PUSH_INTERVAL_MS',
  interval: 100,
  PUSH_P95_MS: 50,
  PUSH_P99_MS: 100,
});

export const options = script.options;
export const setup = script.setup;
export default script.run;
