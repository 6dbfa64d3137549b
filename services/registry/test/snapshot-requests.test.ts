import { createSubjects } from '@session-mesh/protocol';
import { createLogger } from '@session-mesh/runtime';
import { describe, expect, it } from 'vitest';
import { SnapshotRequests } from '../src/snapshot/snapshot-requests.js';
import { SnapshotSync } from '../src/snapshot/snapshot-sync.js';
import { EdgeLiveness } from '../src/state/edge-liveness.js';

const subjects = createSubjects('mesh');
const logger = createLogger({ name: 'test', level: 'silent' });

function setup() {
  const clock = { t: 0 };
  const sent: string[] = [];
  const liveness = new EdgeLiveness(15_000);
  const sync = new SnapshotSync({ assemblyTimeoutMs: 5_000, requestTimeoutMs: 1_000 });
  const requests = new SnapshotRequests({ sync, liveness, publish: (subject) => sent.push(subject), subjects, logger, now: () => clock.t });
  return { clock, sent, liveness, requests };
}

describe('SnapshotRequests', () => {
  // Issue 9, finding 7: an unknown edge was not asked for 2 heartbeat intervals (10 s) after a request to every edge.
  it('asks an unknown edge at once unless a request to every edge went out within the last second', () => {
    const { clock, sent, liveness, requests } = setup();
    requests.all('bus reconnected');
    clock.t = 500;
    liveness.heartbeat('edge-late', clock.t, 5_000);
    requests.edge('edge-late', 'unknown edge');
    expect(sent).toEqual([subjects.snapshotRequestAll()]);
    clock.t = 1_500;
    requests.edge('edge-late', 'unknown edge');
    expect(sent).toEqual([subjects.snapshotRequestAll(), subjects.snapshotRequestEdge('edge-late')]);
    // Outstanding for max(1 s, 2 heartbeat intervals): not repeated meanwhile.
    clock.t = 2_000;
    requests.edge('edge-late', 'unknown edge');
    expect(sent).toHaveLength(2);
  });
});
