import { describe, expect, it } from 'vitest';
import { createBus, MemoryBroker, type BusMessage } from '../src/index.js';
import { runBusConformance } from './conformance.js';

const broker = new MemoryBroker();
runBusConformance({
  name: 'memory',
  connectLimited: async (maxSubscriptions, logger) => broker.connect('limited', { logger, maxSubscriptions }),
  async connect(logger) {
    const a = broker.connect('a', { logger });
    const b = broker.connect('b', { logger });
    return {
      a,
      b,
      cleanup: async () => {
        await a.close();
        await b.close();
      },
    };
  },
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('memory bus specifics', () => {
  it('closing a client removes only its own subscriptions, and refuses use afterwards', async () => {
    const broker = new MemoryBroker();
    const a = broker.connect('a');
    const b = broker.connect('b');
    const got: string[] = [];
    a.subscribe('s', () => got.push('a'));
    b.subscribe('s', () => got.push('b'));
    await a.close();
    expect(a.isConnected()).toBe(false);
    b.publish('s', text('x'));
    await b.flush();
    expect(got).toEqual(['b']);
    expect(() => a.publish('s', text('x'))).toThrow(/closed/);
    await expect(a.flush()).rejects.toThrow(/closed/);
    await a.close();
    await b.close();
  });

  it('delivers asynchronously, never inside publish()', async () => {
    const bus = new MemoryBroker().connect();
    const got: BusMessage[] = [];
    bus.subscribe('s', (m) => got.push(m));
    bus.publish('s', text('x'));
    expect(got).toHaveLength(0);
    await bus.flush();
    expect(got).toHaveLength(1);
    await bus.close();
  });

  it('close() delivers what was published before it', async () => {
    const broker = new MemoryBroker();
    const a = broker.connect();
    const got: string[] = [];
    a.subscribe('s', () => got.push('x'));
    a.publish('s', text('x'));
    await a.close();
    expect(got).toEqual(['x']);
  });

  it('interest is decided at publish time: a later subscriber does not get earlier messages', async () => {
    const bus = new MemoryBroker().connect();
    const got: string[] = [];
    bus.publish('s', text('early'));
    bus.subscribe('s', (m) => got.push(new TextDecoder().decode(m.data)));
    bus.publish('s', text('late'));
    await bus.flush();
    expect(got).toEqual(['late']);
    await bus.close();
  });

  it('closing a client stops its KV watches but keeps the shared buckets', async () => {
    const broker = new MemoryBroker();
    const a = broker.connect();
    const b = broker.connect();
    const seen: string[] = [];
    await (await a.kv('bk')).watch((e) => seen.push(e.key));
    await a.close();
    const kb = await b.kv('bk');
    await kb.put('k', text('v'));
    await b.flush();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    expect((await kb.get('k'))?.value).toEqual(text('v'));
    await b.close();
  });

  it('createBus gives a memory client without natsUrl, sharing the broker passed in', async () => {
    const broker = new MemoryBroker();
    const a = await createBus({ name: 'a' }, broker);
    const b = await createBus({ name: 'b', natsUrl: '' }, broker);
    expect(a.kind).toBe('memory');
    const got: string[] = [];
    b.subscribe('x', () => got.push('x'));
    a.publish('x', text('1'));
    await a.flush();
    expect(got).toEqual(['x']);
    await a.close();
    await b.close();
  });
});
