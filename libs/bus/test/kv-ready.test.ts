/**
 * openKvWhenReady's retry logic against a scripted bus (pure logic: the real-server behaviour is
 * in kv-ready.nats.test.ts and the conformance suite).
 */
import { describe, expect, it } from 'vitest';
import {
  KvBucketMissingError,
  KvSettingsMismatchError,
  KvUnavailableError,
  MemoryBroker,
  openKvWhenReady,
  type Bus,
  type KvBucket,
  type KvOptions,
} from '../src/index.js';

/** A bus whose kv() fails with `failures` in turn, then opens a real memory bucket (`b` exists). */
function scriptedBus(failures: Error[]): { bus: Bus; calls: KvOptions[] } {
  const real = new MemoryBroker().connect('real');
  void real.kv('b', { create: true });
  const calls: KvOptions[] = [];
  const bus: Bus = Object.create(real) as Bus;
  bus.kv = (bucket: string, options?: KvOptions): Promise<KvBucket> => {
    calls.push(options ?? {});
    const next = failures.shift();
    return next === undefined ? real.kv(bucket, options) : Promise.reject(next);
  };
  return { bus, calls };
}

describe('openKvWhenReady', () => {
  it('retries missing and unavailable buckets with doubling waits up to the cap, then resolves', async () => {
    const { bus, calls } = scriptedBus([
      new KvUnavailableError('b', { cause: new Error('timeout') }),
      new KvUnavailableError('b'),
      new KvBucketMissingError('b'),
      new KvBucketMissingError('b'),
      new KvBucketMissingError('b'),
    ]);
    const waits: [number, number, string][] = [];
    const kv = await openKvWhenReady(bus, 'b', { create: false }, {
      initialDelayMs: 1,
      maxDelayMs: 4,
      onWait: (w) => waits.push([w.attempt, w.delayMs, w.error.name]),
    });
    expect(kv.bucket).toBe('b');
    expect(waits).toEqual([
      [1, 1, 'KvUnavailableError'],
      [2, 2, 'KvUnavailableError'],
      [3, 4, 'KvBucketMissingError'],
      [4, 4, 'KvBucketMissingError'],
      [5, 4, 'KvBucketMissingError'],
    ]);
    expect(calls).toHaveLength(6);
    expect(calls.every((c) => c.create === false)).toBe(true);
  });

  it('rejects at once, without waiting, on an error that retrying cannot fix', async () => {
    const mismatch = new KvSettingsMismatchError('b', { history: 5 }, { replicas: 1, history: 1 });
    const { bus } = scriptedBus([mismatch]);
    let waited = 0;
    await expect(openKvWhenReady(bus, 'b', { create: true }, { onWait: () => waited++ })).rejects.toBe(mismatch);
    const closed = new Error('bus is closed');
    await expect(openKvWhenReady(scriptedBus([closed]).bus, 'b', { create: true }, { onWait: () => waited++ })).rejects.toBe(closed);
    expect(waited).toBe(0);
  });

  it('stops waiting when aborted, with the abort reason, and never calls kv() again', async () => {
    const { bus, calls } = scriptedBus(Array.from({ length: 100 }, () => new KvUnavailableError('b')));
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const opened = openKvWhenReady(bus, 'b', { create: false }, {
      signal: controller.signal,
      initialDelayMs: 60_000,
      maxDelayMs: 60_000,
      onWait: () => controller.abort(reason),
    });
    await expect(opened).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
    const already = AbortSignal.abort(reason);
    await expect(openKvWhenReady(bus, 'b', { create: false }, { signal: already })).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
  });

  it('an abort ends an attempt still in flight (it can take a JetStream API timeout)', async () => {
    const { bus } = scriptedBus([]);
    let attempts = 0;
    bus.kv = () => {
      attempts++;
      return new Promise<KvBucket>(() => undefined);
    };
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const opened = openKvWhenReady(bus, 'b', { create: true }, { signal: controller.signal });
    await new Promise((r) => setImmediate(r));
    controller.abort(reason);
    await expect(opened).rejects.toBe(reason);
    expect(attempts).toBe(1);
  });

  it('keeps retrying when the onWait hook throws (reported as a process warning)', async () => {
    const { bus } = scriptedBus([new KvBucketMissingError('b'), new KvBucketMissingError('b')]);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const kv = await openKvWhenReady(bus, 'b', {}, {
        initialDelayMs: 1,
        onWait: () => {
          throw new Error('logger broke');
        },
      });
      expect(kv.bucket).toBe('b');
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((m) => m.includes('logger broke'))).toHaveLength(2);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('refuses nonsensical delays', async () => {
    const { bus } = scriptedBus([]);
    await expect(openKvWhenReady(bus, 'b', {}, { initialDelayMs: 0 })).rejects.toThrow(/initialDelayMs/);
    await expect(openKvWhenReady(bus, 'b', {}, { initialDelayMs: 10, maxDelayMs: 5 })).rejects.toThrow(/maxDelayMs/);
  });
});
