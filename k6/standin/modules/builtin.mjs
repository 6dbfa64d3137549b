// The built-in k6 metrics the stand-in emits (a subset of k6's, same names and kinds).
import { Counter, Rate, Trend } from './metrics.mjs';

export const builtin = {
  checks: new Rate('checks'),
  wsSessions: new Counter('ws_sessions'),
  wsConnecting: new Trend('ws_connecting', true),
  wsSessionDuration: new Trend('ws_session_duration', true),
  wsMsgsSent: new Counter('ws_msgs_sent'),
  wsMsgsReceived: new Counter('ws_msgs_received'),
  httpReqs: new Counter('http_reqs'),
  httpReqDuration: new Trend('http_req_duration', true),
  httpReqFailed: new Rate('http_req_failed'),
};
