import { MemoryBroker, type KvStore } from '@session-mesh/bus';
import { createSubjects, encodeId, parsePresenceEvent, type ConnectionRecord, type PresenceEvent } from '@session-mesh/protocol';
import { createLogger } from '@session-mesh/runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_KEY_PREFIX, AnnouncedLedger } from '../src/announce/announced-ledger.js';
import { Announcer } from '../src/announce/announcer.js';
import { HeardPresence } from '../src/announce/heard-presence.js';
import { PresenceStore } from '../src/state/presence-store.js';
import { waitFor } from '../../../test/support/wait-for.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const subjects = createSubjects('mesh');
const rec = (conn: string, user: string, edge = 'e1'): ConnectionRecord => ({ conn, user, session: `s-${conn}`, client: 'tab', edge, connectedAt: 1, lastActivity: 1 });

/** One replica's announcer over a real in-process KV bucket, with its lease held or not by hand. */
function replica(kv: KvStore, store = new PresenceStore(), presenceGraceMs = 0) {
  const published: PresenceEvent[] = [];
  const msgIds: string[] = [];
  const clock = { t: 42 };
  const lease = { held: false };
  const bus = { connected: true };
  const ledger = new AnnouncedLedger({ kv, logger });
  const heard = new HeardPresence(60_000);
  const announcer = new Announcer({
    store,
    ledger,
    holdsLease: () => lease.held,
    canPublish: () => bus.connected,
    heard,
    publish: (_subject, data, headers) => {
      const p = parsePresenceEvent(data);
      if (p.ok) published.push(p.value);
      msgIds.push(headers?.['Nats-Msg-Id'] ?? '');
    },
    subjects,
    presenceGraceMs,
    logger,
    now: () => clock.t,
  });
  const lead = async () => {
    lease.held = true;
    announcer.leadershipChanged(true);
    await waitFor(() => announcer.isLeading(), { what: 'the ledger to load' });
  };
  const seen = () => published.map((p) => `${p.user}:${p.status}:${p.connections}`);
  return { store, ledger, announcer, lease, bus, published, msgIds, clock, lead, seen };
}

describe('Announcer', () => {
  let kv: KvStore;
  beforeEach(async () => {
    kv = await new MemoryBroker().connect('test').kv('mesh_registry');
  });

  it('announces nothing as a follower, and only the difference with the ledger once it leads', async () => {
    const r = replica(kv);
    r.announcer.changed(r.store.connect(rec('c1', 'alice')));
    r.announcer.changed(r.store.connect(rec('c2', 'bob')));
    expect(r.published).toEqual([]);
    // The previous leader announced bob and carol online; carol has left since.
    await kv.put(ANNOUNCED_KEY_PREFIX + encodeId('bob'), new Uint8Array([123, 125]));
    await kv.put(ANNOUNCED_KEY_PREFIX + encodeId('carol'), new Uint8Array([123, 125]));
    await r.lead();
    expect(r.seen().sort()).toEqual(['alice:online:1', 'carol:offline:0']);
    await r.ledger.settled();
    expect((await kv.keys()).sort()).toEqual([ANNOUNCED_KEY_PREFIX + encodeId('alice'), ANNOUNCED_KEY_PREFIX + encodeId('bob')].sort());
  });

  it('announces each later transition once, and no connection-count change', async () => {
    const r = replica(kv);
    await r.lead();
    r.announcer.changed(r.store.connect(rec('c1', 'alice')));
    r.announcer.changed(r.store.connect(rec('c2', 'alice')));
    r.announcer.changed(r.store.disconnect('c1'));
    r.announcer.changed(r.store.disconnect('c2'));
    r.announcer.changed(r.store.disconnect('c2'));
    expect(r.seen()).toEqual(['alice:online:1', 'alice:offline:0']);
  });

  it('gives each presence event a Nats-Msg-Id naming the user, the status and the time (the events stream stores a repeat once)', async () => {
    const r = replica(kv);
    await r.lead();
    r.announcer.changed(r.store.connect(rec('c1', 'alice')));
    r.clock.t = 50;
    r.announcer.changed(r.store.disconnect('c1'));
    expect(r.msgIds).toEqual([`presence.${encodeId('alice')}.online.42`, `presence.${encodeId('alice')}.offline.50`]);
  });

  it('with a grace, a user who reconnects in time makes no offline/online pair; one who stays away goes offline after it', async () => {
    const r = replica(kv, new PresenceStore(), 1000);
    await r.lead();
    r.announcer.changed(r.store.connect(rec('c1', 'alice')));
    r.announcer.changed(r.store.disconnect('c1'));
    r.clock.t += 900;
    r.announcer.flush();
    r.announcer.changed(r.store.connect(rec('c2', 'alice'))); // the tab is back, on another edge
    r.clock.t += 5000;
    r.announcer.flush();
    expect(r.seen()).toEqual(['alice:online:1']);
    r.announcer.changed(r.store.disconnect('c2'));
    r.clock.t += 999;
    r.announcer.flush();
    expect(r.seen()).toEqual(['alice:online:1']);
    r.clock.t += 1;
    r.announcer.flush();
    expect(r.seen()).toEqual(['alice:online:1', 'alice:offline:0']);
    r.clock.t += 5000;
    r.announcer.flush();
    expect(r.seen()).toEqual(['alice:online:1', 'alice:offline:0']);
  });

  it('hands over through the ledger: the next leader announces what the dead one could not, and repeats nothing', async () => {
    const a = replica(kv);
    const b = replica(kv);
    const both = (f: (s: PresenceStore) => ReturnType<PresenceStore['connect']>) => {
      a.announcer.changed(f(a.store));
      b.announcer.changed(f(b.store));
    };
    await a.lead();
    both((s) => s.connect(rec('c1', 'alice')));
    both((s) => s.connect(rec('c2', 'bob')));
    await a.ledger.settled();
    // a dies: its lease still blocks b for a while, and changes meanwhile are announced by nobody.
    a.lease.held = false;
    both((s) => s.connect(rec('c3', 'carol')));
    both((s) => s.disconnect('c2'));
    both((s) => s.connect(rec('c4', 'dave')));
    both((s) => s.disconnect('c4'));
    expect(a.seen()).toEqual(['alice:online:1', 'bob:online:1']);
    expect(b.seen()).toEqual([]);
    await b.lead();
    // dave came and went inside the gap: his net change is none.
    expect(b.seen().sort()).toEqual(['bob:offline:0', 'carol:online:1']);
    both((s) => s.disconnect('c1'));
    expect(b.seen()).toContain('alice:offline:0');
    expect([...a.seen(), ...b.seen()].filter((e) => e === 'alice:offline:0')).toHaveLength(1);
  });

  it('catches up after the lease lapsed between two lease steps without being lost', async () => {
    const r = replica(kv);
    await r.lead();
    r.lease.held = false;
    r.announcer.changed(r.store.connect(rec('c1', 'alice')));
    expect(r.published).toEqual([]);
    r.lease.held = true;
    r.announcer.flush();
    expect(r.seen()).toEqual(['alice:online:1']);
  });

  it('a leadership lost and regained reloads the ledger instead of trusting its old mirror', async () => {
    const a = replica(kv);
    const b = replica(kv);
    await a.lead();
    a.announcer.changed(a.store.connect(rec('c1', 'alice')));
    b.store.connect(rec('c1', 'alice'));
    await a.ledger.settled();
    a.lease.held = false;
    a.announcer.leadershipChanged(false);
    await b.lead();
    b.announcer.changed(b.store.disconnect('c1'));
    a.store.disconnect('c1');
    await b.ledger.settled();
    b.lease.held = false;
    b.announcer.leadershipChanged(false);
    await a.lead();
    expect(a.seen()).toEqual(['alice:online:1']);
    expect(b.seen()).toEqual(['alice:offline:0']);
  });

  // Issue 9, finding 3: a leader killed between publishing and writing its ledger made the next one announce again.
  it('a new leader does not repeat what the dead leader announced but had not yet written to the ledger', async () => {
    const follower = replica(kv);
    follower.store.connect(rec('c1', 'alice'));
    // Heard on the bus from the previous leader; its ledger write never happened (it was killed).
    follower.announcer.heard({ v: 1, user: 'alice', status: 'online', at: 1, connections: 1 });
    await follower.lead();
    expect(follower.published).toEqual([]);
    await follower.ledger.settled();
    expect(await kv.keys()).toEqual([ANNOUNCED_KEY_PREFIX + encodeId('alice')]);
  });

  // Issue 9, finding 3/6: an announcement made while NATS is away is dropped by nats.js, yet the ledger recorded it.
  it('announces nothing while the bus is disconnected, and everything owed once it is back', async () => {
    const r = replica(kv);
    await r.lead();
    r.bus.connected = false;
    r.announcer.changed(r.store.connect(rec('c1', 'alice')));
    r.announcer.changed(r.store.connect(rec('c2', 'bob')));
    r.announcer.changed(r.store.disconnect('c2'));
    expect(r.published).toEqual([]);
    r.bus.connected = true;
    r.announcer.flush();
    expect(r.seen()).toEqual(['alice:online:1']);
  });
});
