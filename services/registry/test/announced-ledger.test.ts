import { MemoryBroker, type KvEntry, type KvStore } from '@session-mesh/bus';
import { encodeId } from '@session-mesh/protocol';
import { createLogger } from '@session-mesh/runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_KEY_PREFIX, AnnouncedLedger } from '../src/announce/announced-ledger.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const key = (user: string) => ANNOUNCED_KEY_PREFIX + encodeId(user);

/** A real in-process bucket whose writes can be made to fail or to wait. */
class FlakyKv implements KvStore {
  failing = false;
  writes: string[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  constructor(private readonly kv: KvStore) {}
  get bucket() {
    return this.kv.bucket;
  }
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  private async write<T>(what: string, op: () => Promise<T>): Promise<T> {
    this.writes.push(what);
    await this.gate;
    if (this.failing) throw new Error('bus down');
    return op();
  }
  get = (k: string) => this.kv.get(k);
  put = (k: string, v: Uint8Array) => this.write(`put ${k}`, () => this.kv.put(k, v));
  delete = (k: string) => this.write(`del ${k}`, () => this.kv.delete(k));
  create = (k: string, v: Uint8Array) => this.kv.create(k, v);
  update = (k: string, v: Uint8Array, r: number) => this.kv.update(k, v, r);
  keys = () => this.kv.keys();
  watch = (onEntry: (e: KvEntry) => void, onReady?: () => void) => this.kv.watch(onEntry, onReady);
}

describe('AnnouncedLedger', () => {
  let kv: FlakyKv;
  beforeEach(async () => {
    kv = new FlakyKv(await new MemoryBroker().connect('test').kv('mesh_registry'));
  });

  it('keeps one key per user last announced online, which the next ledger loads', async () => {
    const ledger = new AnnouncedLedger({ kv, logger });
    ledger.record('alice', true);
    ledger.record('bob.x *>', true);
    ledger.record('carol', true);
    ledger.record('carol', false);
    await ledger.settled();
    expect((await kv.keys()).sort()).toEqual([key('alice'), key('bob.x *>')].sort());
    await kv.put('leader', new Uint8Array([1])); // other keys of the bucket are not the ledger's
    const next = new AnnouncedLedger({ kv, logger });
    expect(await next.load()).toBe(2);
    expect([...next.onlineUsers()].sort()).toEqual(['alice', 'bob.x *>']);
    expect(next.isOnline('carol')).toBe(false);
  });

  it('writes one user at a time, in order, coalescing what piles up meanwhile', async () => {
    const ledger = new AnnouncedLedger({ kv, logger });
    kv.hold();
    ledger.record('alice', true);
    ledger.record('alice', false);
    ledger.record('alice', true);
    ledger.record('alice', false);
    expect(kv.writes).toEqual([`put ${key('alice')}`]);
    kv.release();
    await ledger.settled();
    await ledger.settled();
    expect(kv.writes).toEqual([`put ${key('alice')}`, `del ${key('alice')}`]);
    expect(await kv.get(key('alice'))).toBeUndefined();
    expect(ledger.backlog()).toBe(0);
  });

  it('keeps failed writes and retries them on the next pump', async () => {
    const ledger = new AnnouncedLedger({ kv, logger });
    kv.failing = true;
    ledger.record('alice', true);
    await ledger.settled();
    expect(ledger.backlog()).toBe(1);
    expect(await kv.get(key('alice'))).toBeUndefined();
    kv.failing = false;
    ledger.pump();
    await ledger.settled();
    expect(ledger.backlog()).toBe(0);
    expect(await kv.get(key('alice'))).toBeDefined();
  });

  it('trusts its own unwritten records over the bucket when it loads', async () => {
    await kv.put(key('alice'), new Uint8Array([123, 125]));
    const ledger = new AnnouncedLedger({ kv, logger });
    kv.failing = true;
    ledger.record('alice', false);
    ledger.record('bob', true);
    await ledger.settled();
    expect(await ledger.load()).toBe(1);
    expect([...ledger.onlineUsers()]).toEqual(['bob']);
  });
});
