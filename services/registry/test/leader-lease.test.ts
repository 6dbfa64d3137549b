import { KvConflictError, type KvEntry, type KvStore } from '@session-mesh/bus';
import { createLogger } from '@session-mesh/runtime';
import { describe, expect, it } from 'vitest';
import { decideLease, encodeLease, isLeaseExpired, LeaderLease, parseLease, type LeaseRecord, type ObservedLease } from '../src/leader/leader-lease.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const lease = (holder: string, expiresAt: number, ttlMs = 5000): LeaseRecord => ({ holder, expiresAt, ttlMs, since: 0 });
const observed = (record: LeaseRecord | undefined, revision = 7, observedAt = 0): ObservedLease => ({ record, revision, observedAt });

describe('decideLease', () => {
  it('creates the lease when there is none', () => {
    expect(decideLease(undefined, 'a', 0)).toEqual({ action: 'create' });
  });
  it('renews its own lease', () => {
    expect(decideLease(observed(lease('a', 100)), 'a', 50)).toEqual({ action: 'renew', revision: 7 });
  });
  it('waits while another holder is valid', () => {
    expect(decideLease(observed(lease('b', 100)), 'a', 50)).toEqual({ action: 'wait', holder: 'b', expiresAt: 100 });
  });
  it('takes over once the expiry in the value passed', () => {
    expect(decideLease(observed(lease('b', 100)), 'a', 100)).toEqual({ action: 'takeover', revision: 7, previous: 'b' });
  });
  it('takes over a lease that did not change for a whole ttl by the local clock (holder clock far ahead)', () => {
    const far = observed(lease('b', 10_000_000, 5000), 7, 1000);
    expect(isLeaseExpired(far, 6000)).toBe(false);
    expect(decideLease(far, 'a', 6001).action).toBe('takeover');
  });
  it('takes over an unreadable value', () => {
    expect(decideLease(observed(undefined), 'a', 0)).toEqual({ action: 'takeover', revision: 7, previous: undefined });
  });
  it('round-trips the value and refuses garbage', () => {
    expect(parseLease(encodeLease(lease('a', 5)))).toEqual(lease('a', 5));
    expect(parseLease(new TextEncoder().encode('{"holder":""}'))).toBeUndefined();
    expect(parseLease(new TextEncoder().encode('nope'))).toBeUndefined();
    expect(parseLease(undefined)).toBeUndefined();
  });
});

/** The compare-and-set semantics of a KV bucket, enough for the lease (no watch). */
class CasKv implements KvStore {
  readonly bucket = 'test';
  private readonly entries = new Map<string, KvEntry>();
  private revision = 0;
  failing = false;
  async get(key: string) {
    this.check();
    return this.entries.get(key);
  }
  async put(key: string, value: Uint8Array) {
    this.check();
    return this.write(key, value);
  }
  async create(key: string, value: Uint8Array) {
    this.check();
    const e = this.entries.get(key);
    if (e !== undefined && e.operation === 'PUT') throw new KvConflictError('exists');
    return this.write(key, value);
  }
  async update(key: string, value: Uint8Array, revision: number) {
    this.check();
    if (this.entries.get(key)?.revision !== revision) throw new KvConflictError('wrong revision');
    return this.write(key, value);
  }
  async delete(key: string) {
    this.entries.set(key, { key, value: undefined, revision: ++this.revision, operation: 'DEL' });
  }
  async keys() {
    return [...this.entries.keys()];
  }
  async watch(): Promise<() => void> {
    throw new Error('not needed');
  }
  private write(key: string, value: Uint8Array) {
    this.entries.set(key, { key, value, revision: ++this.revision, operation: 'PUT' });
    return this.revision;
  }
  private check() {
    if (this.failing) throw new Error('bus down');
  }
}

describe('LeaderLease', () => {
  function replica(kv: KvStore, holder: string, clock: { t: number }, changes: boolean[] = []) {
    const lease = new LeaderLease({ kv, key: 'leader', holder, ttlMs: 5000, renewMs: 1000, logger, now: () => clock.t });
    lease.onChange((l) => changes.push(l));
    return lease;
  }

  it('elects exactly one of two replicas and keeps it while it renews', async () => {
    const kv = new CasKv();
    const clock = { t: 0 };
    const a = replica(kv, 'a', clock);
    const b = replica(kv, 'b', clock);
    await Promise.all([a.tick(), b.tick()]);
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const [leader, follower] = a.isLeader() ? [a, b] : [b, a];
    for (let i = 0; i < 10; i++) {
      clock.t += 1000;
      await leader.tick();
      await follower.tick();
      expect(leader.isLeader()).toBe(true);
      expect(follower.isLeader()).toBe(false);
    }
  });

  it('hands over when the leader stops renewing, and the old leader steps down by its own clock first', async () => {
    const kv = new CasKv();
    const clock = { t: 0 };
    const aChanges: boolean[] = [];
    const a = replica(kv, 'a', clock, aChanges);
    const b = replica(kv, 'b', clock);
    await a.tick();
    await b.tick();
    expect(a.isLeader()).toBe(true);
    // a hangs (no more ticks); after ttl - renew it no longer acts as leader.
    clock.t = 3999;
    expect(a.isLeader()).toBe(true);
    clock.t = 4000;
    expect(a.isLeader()).toBe(false);
    await b.tick();
    expect(b.isLeader()).toBe(false);
    clock.t = 5000;
    await b.tick();
    expect(b.isLeader()).toBe(true);
    // a wakes up: its renewal conflicts, it stays a follower.
    await a.tick();
    expect(a.isLeader()).toBe(false);
    expect(aChanges).toEqual([true, false]);
  });

  it('loses leadership when the KV is unreachable for longer than the lease allows', async () => {
    const kv = new CasKv();
    const clock = { t: 0 };
    const a = replica(kv, 'a', clock);
    await a.tick();
    kv.failing = true;
    clock.t = 2000;
    await a.tick();
    expect(a.isLeader()).toBe(true);
    clock.t = 4000;
    await a.tick();
    expect(a.isLeader()).toBe(false);
    kv.failing = false;
    clock.t = 4500;
    await a.tick();
    expect(a.isLeader()).toBe(true);
  });

  it('releases the lease on stop so a follower takes over at once', async () => {
    const kv = new CasKv();
    const clock = { t: 0 };
    const a = replica(kv, 'a', clock);
    const b = replica(kv, 'b', clock);
    await a.tick();
    await b.tick();
    await a.stop();
    expect(a.isLeader()).toBe(false);
    clock.t = 1;
    await b.tick();
    expect(b.isLeader()).toBe(true);
  });

  it('refuses a ttl shorter than two renew intervals', () => {
    expect(() => new LeaderLease({ kv: new CasKv(), key: 'k', holder: 'a', ttlMs: 1500, renewMs: 1000, logger })).toThrow(/twice/);
  });
});
