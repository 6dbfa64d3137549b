import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait-for.js';
import { startNatsCluster, startNatsServer, type NatsClusterHandle, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { connectNatsBus, createBus, KvSettingsMismatchError, SubscriptionLimitError, type Bus, type BusEvent } from '../src/index.js';
import { NATS_JS_VERSION } from '../src/nats/internals.js';
import { runBusConformance } from './conformance.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Retries an assertion until it passes (test/support/wait-for.ts does the polling). */
const eventually = (check: () => void | Promise<void>, timeoutMs = 10_000): Promise<true> =>
  waitFor(
    async () => {
      await check();
      return true as const;
    },
    { timeoutMs },
  );

const lightSubscriptionsOf = (bus: Bus): boolean => (bus as unknown as { lightSubscriptions: boolean }).lightSubscriptions;

describe('NATS bus on a 3-node JetStream cluster', () => {
  let cluster: NatsClusterHandle;
  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3, jetstream: true });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  // Twice: with light subscriptions (the default) and with them turned off, so the fallback
  // path is proven to meet the same contract.
  for (const light of [true, false]) {
    runBusConformance({
      name: `nats (clients on different nodes), light subscriptions ${light ? 'on' : 'off'}`,
      kvOptions: { replicas: 3, history: 5 },
      async connect(logger) {
        // One server URL each: nats.js would otherwise pick a random node, maybe the same one.
        const a = await connectNatsBus({ servers: cluster.urls[0] as string, name: 'conformance-a', logger, lightSubscriptions: light });
        const b = await connectNatsBus({ servers: cluster.urls[1] as string, name: 'conformance-b', logger, lightSubscriptions: light });
        expect(lightSubscriptionsOf(a)).toBe(light);
        expect(lightSubscriptionsOf(b)).toBe(light);
        return {
          a,
          b,
          cleanup: async () => {
            await a.close();
            await b.close();
          },
        };
      },
      connectLimited: (maxSubscriptions, logger) =>
        connectNatsBus({ servers: cluster.urls[2] as string, name: 'conformance-limited', logger, lightSubscriptions: light, maxSubscriptions }),
    });
  }
});

describe('NATS bus specifics', () => {
  const buses: Bus[] = [];
  const servers: NatsServerHandle[] = [];
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    for (const s of servers) await s.stop();
  });

  for (const light of [true, false]) {
    it(`names the subscriptions a server refuses past max_subs (the edge closes those users) (light subscriptions ${light ? 'on' : 'off'})`, async () => {
      const server = await startNatsServer({ maxSubs: 5 });
      servers.push(server);
      const bus = await connectNatsBus({ servers: server.url, name: 'max-subs', lightSubscriptions: light });
      buses.push(bus);
      const events: BusEvent[] = [];
      bus.onEvent((e) => events.push(e));
      const got: string[] = [];
      // The bus holds one subscription of its own (created first), so 4 of these fit.
      const subs = ['s1', 's2', 's3', 's4', 's5', 's6'].map((s) => bus.subscribe(s, () => got.push(s)));
      await eventually(() => {
        expect(events.filter((e) => e.type === 'subscription-error').map((e) => (e.type === 'subscription-error' ? e.subject : ''))).toEqual([
          's5',
          's6',
        ]);
      });
      const errors = events.filter((e) => e.type === 'error');
      expect(errors).toHaveLength(2);
      expect(errors[0]?.type === 'error' && errors[0].error.message).toMatch(/maximum subscriptions exceeded/i);
      expect(bus.isConnected()).toBe(true);

      // The accepted ones still work; a slot freed by unsubscribe can be used again.
      subs[0]?.unsubscribe();
      bus.subscribe('s7', () => got.push('s7'));
      for (const s of ['s2', 's3', 's4', 's5', 's6', 's7']) bus.publish(s, text('x'));
      await bus.flush();
      await eventually(() => expect(got.sort()).toEqual(['s2', 's3', 's4', 's7']));
      await bus.flush();
      expect(events.filter((e) => e.type === 'subscription-error')).toHaveLength(2);

      // A refusal in a later batch is named on its own.
      bus.subscribe('s8', () => undefined);
      await eventually(() => {
        const named = events.filter((e) => e.type === 'subscription-error');
        expect(named).toHaveLength(3);
        expect(named[2]?.type === 'subscription-error' && named[2].subject).toBe('s8');
      });
    });

    it(`never misses a refused subscription when unsubscribes are interleaved (may name extra ones) (light subscriptions ${light ? 'on' : 'off'})`, async () => {
      const server = await startNatsServer({ maxSubs: 5 });
      servers.push(server);
      const bus = await connectNatsBus({ servers: server.url, name: 'max-subs-interleaved', lightSubscriptions: light });
      buses.push(bus);
      const events: BusEvent[] = [];
      bus.onEvent((e) => events.push(e));
      const full = ['f1', 'f2', 'f3', 'f4'].map((s) => bus.subscribe(s, () => undefined));
      await bus.flush();
      await bus.flush();
      expect(events).toEqual([]);
      // Server side: x1 is refused (full), f1's slot frees, x2 fits.
      bus.subscribe('x1', () => undefined);
      full[0]?.unsubscribe();
      bus.subscribe('x2', () => undefined);
      await eventually(() => {
        const named = events.flatMap((e) => (e.type === 'subscription-error' ? [e.subject] : []));
        expect(named).toContain('x1');
      });
      expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    });

    it(`names a subscription refused for permissions (light subscriptions ${light ? 'on' : 'off'})`, async () => {
      const server = await startNatsServer({
        extraConfig: [
          'authorization { users: [ { user: "edge", password: "pw", permissions: { subscribe: { deny: ["forbidden.>"] } } } ] }',
          'no_auth_user: "edge"',
        ].join('\n'),
      });
      servers.push(server);
      const bus = await connectNatsBus({ servers: server.url, name: 'perms', lightSubscriptions: light });
      buses.push(bus);
      const events: BusEvent[] = [];
      bus.onEvent((e) => events.push(e));
      const got: string[] = [];
      bus.subscribe('allowed.x', () => got.push('allowed'));
      bus.subscribe('forbidden.x', () => got.push('forbidden'));
      await eventually(() => {
        const refused = events.find((e) => e.type === 'subscription-error');
        expect(refused?.type === 'subscription-error' && refused.subject).toBe('forbidden.x');
      });
      expect(events.some((e) => e.type === 'error' && /permissions violation/i.test(e.error.message))).toBe(true);
      bus.publish('allowed.x', text('x'));
      await bus.flush();
      expect(got).toEqual(['allowed']);
      expect(bus.isConnected()).toBe(true);
    });

    it(`emits disconnected and reconnected, and resubscribes (light subscriptions ${light ? 'on' : 'off'})`, async () => {
      const server = await startNatsServer();
      servers.push(server);
      const bus = await connectNatsBus({ servers: server.url, name: 'reconnect', lightSubscriptions: light });
      buses.push(bus);
      const events: string[] = [];
      bus.onEvent((e) => events.push(e.type));
      const got: string[] = [];
      bus.subscribe('after.reconnect', (m) => got.push(new TextDecoder().decode(m.data)));
      await bus.flush();

      await server.restart();
      await eventually(() => expect(events).toEqual(['disconnected', 'reconnected']));
      expect(bus.isConnected()).toBe(true);

      const other = await connectNatsBus({ servers: server.url, name: 'publisher', lightSubscriptions: light });
      buses.push(other);
      await bus.flush();
      other.publish('after.reconnect', text('hi'));
      await other.flush();
      await eventually(() => expect(got).toEqual(['hi']));
    });

    it(`after a reconnect: resubscribes plain and queue subscriptions, not unsubscribed ones, and unsubscribe still works (light subscriptions ${light ? 'on' : 'off'})`, async () => {
      const server = await startNatsServer();
      servers.push(server);
      const bus = await connectNatsBus({ servers: server.url, name: 'resub-many', lightSubscriptions: light });
      buses.push(bus);
      const events: string[] = [];
      bus.onEvent((e) => events.push(e.type));
      const got: string[] = [];
      const subs = Array.from({ length: 50 }, (_, i) => bus.subscribe(`resub.${i}`, () => got.push(`resub.${i}`)));
      bus.subscribe('resub.q', () => got.push('q'), { queue: 'workers' });
      bus.subscribe('resub.throws', () => {
        throw new Error('handler bug');
      });
      for (let i = 0; i < 50; i += 2) subs[i]?.unsubscribe();
      await bus.flush();

      await server.restart();
      await eventually(() => expect(events).toEqual(['disconnected', 'reconnected']));
      const other = await connectNatsBus({ servers: server.url, name: 'resub-publisher', lightSubscriptions: light });
      buses.push(other);
      await bus.flush();
      other.publish('resub.throws', text('x'));
      for (let i = 0; i < 50; i++) other.publish(`resub.${i}`, text('x'));
      other.publish('resub.q', text('x'));
      await other.flush();
      const odd = Array.from({ length: 25 }, (_, k) => `resub.${2 * k + 1}`);
      await eventually(() => expect([...got].sort()).toEqual([...odd, 'q'].sort()));

      // Unsubscribe after the reconnect (the sids nats.js re-sent) stops delivery too.
      for (let i = 1; i < 50; i += 2) subs[i]?.unsubscribe();
      await bus.flush();
      got.length = 0;
      for (let i = 0; i < 50; i++) other.publish(`resub.${i}`, text('y'));
      other.publish('resub.q', text('y'));
      await other.flush();
      await eventually(() => expect(got).toEqual(['q']));
      await bus.flush();
      expect(got).toEqual(['q']);
    });
  }

  it('with a budget below max_subs the server never has to refuse: subscribe() throws locally instead', async () => {
    const server = await startNatsServer({ maxSubs: 5 });
    servers.push(server);
    // max_subs 5 = the bus's marker subscription + the request inbox + 3 of ours.
    const bus = await connectNatsBus({ servers: server.url, name: 'budget', maxSubscriptions: 3 });
    buses.push(bus);
    const events: BusEvent[] = [];
    bus.onEvent((e) => events.push(e));
    bus.subscribe('svc', (m) => bus.respond(m, text('ok')));
    expect(new TextDecoder().decode((await bus.request('svc', text('x'), { timeoutMs: 5000 })).data)).toBe('ok');
    bus.subscribe('s2', () => undefined);
    bus.subscribe('s3', () => undefined);
    expect(() => bus.subscribe('s4', () => undefined)).toThrow(SubscriptionLimitError);
    expect((bus as unknown as { subscriptionCount: number }).subscriptionCount).toBe(3);
    await bus.flush();
    await bus.flush();
    expect(events).toEqual([]);
  });

  it('two owners racing to create one bucket: same settings both open it; other settings are refused by name', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const a = await connectNatsBus({ servers: server.url, name: 'owner-a' });
    const b = await connectNatsBus({ servers: server.url, name: 'owner-b' });
    buses.push(a, b);
    const same = await Promise.allSettled([a.kv('race_same', { history: 2, create: true }), b.kv('race_same', { history: 2, create: true })]);
    expect(same.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const other = await Promise.allSettled([a.kv('race_other', { history: 2, create: true }), b.kv('race_other', { history: 3, create: true })]);
    const refused = other.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(KvSettingsMismatchError);
    expect(String(refused[0])).toMatch(/history [23] \(expected [23]\)/);
  });

  it('nats.js is pinned exactly, to the version whose internals src/nats/internals.ts was checked against', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    const nats = Object.entries(pkg.dependencies).filter(([name]) => name.startsWith('@nats-io/'));
    expect(nats.map(([name]) => name).sort()).toEqual(['@nats-io/jetstream', '@nats-io/kv', '@nats-io/nats-core', '@nats-io/transport-node']);
    for (const [, version] of nats) expect(version).toBe(NATS_JS_VERSION);
    // The nats-core actually installed (one copy: transport-node's connections must be its NatsConnectionImpl).
    const entry = createRequire(import.meta.url).resolve('@nats-io/nats-core');
    const installed = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(NATS_JS_VERSION);
  });

  it('registers subscriptions with nats.js directly (no SubscriptionImpl): a nats.js upgrade that breaks this is noticed', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const bus = await connectNatsBus({ servers: server.url, name: 'light' });
    buses.push(bus);
    expect(lightSubscriptionsOf(bus)).toBe(true);
    const off = await connectNatsBus({ servers: server.url, name: 'not-light', lightSubscriptions: false });
    buses.push(off);
    expect(lightSubscriptionsOf(off)).toBe(false);
    const created = await createBus({ natsUrl: server.url, name: 'created-not-light', lightSubscriptions: false });
    buses.push(created);
    expect(lightSubscriptionsOf(created)).toBe(false);
  });

  it('survives a nats.js connection drain with subscriptions registered', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const bus = await connectNatsBus({ servers: server.url, name: 'drain' });
    const got: string[] = [];
    bus.subscribe('drain.x', () => got.push('x'));
    const unsubscribed = bus.subscribe('drain.y', () => got.push('y'));
    unsubscribed.unsubscribe();
    await bus.flush();
    const nc = (bus as unknown as { nc: { drain(): Promise<void>; isClosed(): boolean } }).nc;
    await nc.drain();
    expect(nc.isClosed()).toBe(true);
    expect(bus.isConnected()).toBe(false);
    expect(() => bus.subscribe('drain.z', () => undefined)).toThrow();
    unsubscribed.unsubscribe();
    await bus.close();
  });

  it('flush(): callers in one tick share a round trip; a PING already sent never serves a later caller', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const bus = await connectNatsBus({ servers: server.url });
    buses.push(bus);
    const f1 = bus.flush();
    const f2 = bus.flush();
    expect(f2).toBe(f1);
    // Let f1's PING go out; it cannot have been answered yet (that takes a socket round trip).
    await Promise.resolve();
    await Promise.resolve();
    const f3 = bus.flush();
    expect(f3).not.toBe(f1);
    const f4 = bus.flush();
    expect(f4).toBe(f3);
    await Promise.all([f1, f3]);
  });

  it('createBus connects to NATS when natsUrl is set (comma-separated list)', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const bus = await createBus({ name: 'created', natsUrl: `${server.url}, ${server.url}` });
    buses.push(bus);
    expect(bus.kind).toBe('nats');
    expect(bus.isConnected()).toBe(true);
  });

  it('close() delivers earlier publishes to the server first', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const sub = await connectNatsBus({ servers: server.url });
    buses.push(sub);
    const got: number[] = [];
    sub.subscribe('closing', () => got.push(1));
    await sub.flush();
    const pub = await connectNatsBus({ servers: server.url });
    for (let i = 0; i < 100; i++) pub.publish('closing', text('x'));
    await pub.close();
    expect(pub.isConnected()).toBe(false);
    await eventually(() => expect(got).toHaveLength(100));
  });
});
