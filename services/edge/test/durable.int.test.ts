/**
 * Durable pushes and resume on the edge, on both buses (the memory bus's in-process stream and a
 * real nats-server's JetStream) with the same assertions: positions, an exact replay on another
 * edge, the seam between replay and live under a steady publisher, narrowing during replay, the
 * explicit `recovered: false` (other epoch, point ahead, older than retention, past the replay
 * cap, stream recreated), and a malformed resume refused with 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNatsBus, type Bus, type StreamPublishAck } from '@session-mesh/bus';
import { createSubjects, encodeId, Header, type Subjects } from '@session-mesh/protocol';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { mintToken } from '../../../test/support/tokens.js';
import type { MeshClient } from '../../../test/support/ws-client.js';
import { createTestBus, type TestBus } from './support/test-bus.js';
import { startTestEdge, waitFor, type TestEdge, type TestEdgeOptions } from './support/harness.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const bytes = (s: string) => new TextEncoder().encode(s);

/** Where the edges of one describe run: the memory bus (one broker) or one nats-server. */
interface Place {
  readonly backend: Bus;
  edge(env?: Record<string, string>): Promise<TestEdge>;
  stop(): Promise<void>;
}

async function memoryPlace(): Promise<Place & { testBus: TestBus }> {
  const testBus = await createTestBus();
  const edges: TestEdge[] = [];
  return {
    testBus,
    backend: testBus.connect('backend'),
    async edge(env) {
      // The first edge uses the deafable test bus; later ones are other clients of the same broker.
      const options: TestEdgeOptions = edges.length === 0 ? { testBus, env: env ?? {} } : { bus: testBus.connect(`edge-${edges.length}`), env: env ?? {} };
      const t = await startTestEdge(options);
      edges.push(t);
      return t;
    },
    async stop() {
      for (const t of edges) await t.stop();
      await testBus.close();
    },
  };
}

async function natsPlace(): Promise<Place> {
  const nats: NatsServerHandle = await startNatsServer({ jetstream: true });
  const backend = await connectNatsBus({ servers: nats.url, name: 'backend' });
  const edges: Array<{ t: TestEdge; bus: Bus }> = [];
  return {
    backend,
    async edge(env) {
      const bus = await connectNatsBus({ servers: nats.url, name: `edge-${edges.length}` });
      const t = await startTestEdge({ bus, env: env ?? {} });
      edges.push({ t, bus });
      return t;
    },
    async stop() {
      for (const { t, bus } of edges) {
        await t.stop();
        await bus.close();
      }
      await backend.close();
      await nats.stop();
    },
  };
}

function durableSuite(kind: 'memory' | 'nats', open: () => Promise<Place>): void {
  describe(`durable pushes on the ${kind} bus`, () => {
    let place: Place;
    let a: TestEdge;
    let b: TestEdge;
    const subjects: Subjects = createSubjects('mesh');

    beforeAll(async () => {
      place = await open();
      a = await place.edge();
      b = await place.edge();
    }, 30_000);
    afterAll(() => place?.stop());

    const toUser = (user: string, payload: string, narrow: { session?: string; client?: string } = {}): Promise<StreamPublishAck> =>
      place.backend.publishStored(subjects.durableUser(user), bytes(payload), { headers: narrowing(narrow) });
    const toSession = (session: string, payload: string, narrow: { client?: string } = {}): Promise<StreamPublishAck> =>
      place.backend.publishStored(subjects.durableSession(session), bytes(payload), { headers: narrowing(narrow) });

    async function tab(edge: TestEdge, user: string, session: string, client: string, resume?: { position: number; epoch: string }): Promise<MeshClient> {
      const c = await edge.connect({ token: await mintToken({ sub: user, jti: session }), client, ...(resume === undefined ? {} : { resume }) });
      expect(c.welcome, `${user}/${client}: ${JSON.stringify(c.refused ?? c.closed ?? c.error?.message)}`).toBeDefined();
      return c;
    }

    /** A client that saw one durable push, then left: its resume point. */
    async function leaveAfterOne(user: string, session: string, client: string): Promise<{ position: number; epoch: string }> {
      const c = await tab(a, user, session, client);
      const ack = await toUser(user, 'before');
      await waitFor(() => c.durable.length === 1, 5000, 'the first durable push');
      await c.close();
      return { position: ack.seq, epoch: c.welcome!.epoch! };
    }

    it('delivers a durable push with its stream position; welcome names the epoch and where the client starts', async () => {
      const c = await tab(a, 'pos-user', 'pos-user-s', 't');
      expect(c.welcome).toMatchObject({ epoch: expect.stringMatching(/^[A-Za-z0-9_-]+$/), position: expect.any(Number), recovered: false });
      const ack = await toUser('pos-user', 'hello');
      const got = await waitFor(() => c.durable[0], 5000, 'the durable push');
      expect(got.position).toBe(ack.seq);
      expect(got.position).toBeGreaterThan(c.welcome!.position!);
      expect(text(got.payload)).toBe('hello');
      expect(c.pushes).toEqual([]); // a durable push comes once, as DURABLE_PUSH, never also as PUSH
      await c.close();
    });

    it('replays exactly what the client missed on another edge, in order, then `position`, then live', async () => {
      const point = await leaveAfterOne('away-user', 'away-user-s', 't');
      const missed = [await toUser('away-user', 'm1'), await toUser('away-user', 'm2'), await toSession('away-user-s', 'm3')];
      const c = await tab(b, 'away-user', 'away-user-s', 't', point);
      expect(c.welcome).toMatchObject({ epoch: point.epoch, position: point.position, recovered: true });
      await waitFor(() => c.positionMarks.length === 1, 5000, 'the end of the replay');
      expect(c.positionMarks[0]).toEqual({ position: missed[2]!.seq, durableBefore: 3 });
      const live = await toUser('away-user', 'live');
      await waitFor(() => c.durable.length === 4, 5000, 'the live push');
      expect(c.durable.map((d) => [d.position, text(d.payload)])).toEqual([
        [missed[0]!.seq, 'm1'],
        [missed[1]!.seq, 'm2'],
        [missed[2]!.seq, 'm3'],
        [live.seq, 'live'],
      ]);
      await c.close();
    });

    it('has no gap and no duplicate at the seam: 500 missed, and a publisher running from before the connect to after the replay', async () => {
      const point = await leaveAfterOne('seam-user', 'seam-user-s', 't');
      const sent: StreamPublishAck[] = [];
      for (let i = 0; i < 500; i++) sent.push(await toUser('seam-user', `m${i}`));
      const connecting = tab(b, 'seam-user', 'seam-user-s', 't', point);
      let publishedBeforeWelcome = -1;
      let publishedAfterReplay = 0;
      let client: MeshClient | undefined;
      void connecting.then((c) => (client = c));
      // Publish one at a time until the replay has ended and 100 more were published after it.
      for (let i = 500; publishedAfterReplay < 100; i++) {
        sent.push(await toUser('seam-user', `m${i}`));
        await new Promise((resolve) => setImmediate(resolve)); // the memory bus acks without I/O: let the sockets run
        if (client?.welcome !== undefined && publishedBeforeWelcome < 0) publishedBeforeWelcome = i - 500;
        if (client !== undefined && client.positionMarks.length > 0) publishedAfterReplay++;
        if (i > 100_000) throw new Error('the replay never ended');
      }
      const c = await connecting;
      await waitFor(() => c.durable.length >= sent.length, 10_000, `all ${sent.length} pushes`);
      const positions = c.durable.map((d) => d.position);
      const texts = c.durable.map((d) => text(d.payload));
      const duplicates = positions.length - new Set(positions).size;
      const lost = sent.filter((s) => !positions.includes(s.seq)).length;
      console.log(`[durable seam ${kind}] sent ${sent.length} / delivered ${c.durable.length} / lost ${lost} / duplicated ${duplicates}; published during connect+replay: ${publishedBeforeWelcome}, after: ${publishedAfterReplay}`);
      expect(c.welcome!.recovered).toBe(true);
      expect(publishedBeforeWelcome).toBeGreaterThanOrEqual(0);
      expect({ lost, duplicates }).toEqual({ lost: 0, duplicates: 0 });
      expect(positions).toEqual(sent.map((s) => s.seq));
      expect(texts).toEqual(sent.map((_, i) => `m${i}`));
      await c.close();
    }, 60_000);

    it('narrows replayed pushes by session and client exactly as live ones', async () => {
      const p1 = await leaveAfterOne('narrow-user', 'ns1', 'nc1');
      const p2 = await leaveAfterOne('narrow-user', 'ns2', 'nc2');
      await toUser('narrow-user', 'to-nc1', { client: 'nc1' });
      await toUser('narrow-user', 'to-ns2', { session: 'ns2' });
      await toSession('ns1', 'to-ns1');
      await toSession('ns1', 'ns1-but-nc2', { client: 'nc2' });
      await toUser('narrow-user', 'to-all');
      const c1 = await tab(b, 'narrow-user', 'ns1', 'nc1', p1);
      const c2 = await tab(b, 'narrow-user', 'ns2', 'nc2', p2);
      await waitFor(() => c1.positionMarks.length === 1 && c2.positionMarks.length === 1, 5000, 'both replays');
      // c1 left before c2's `before` (a user push to every tab) was published: it missed that one too.
      expect(c1.durable.map((d) => text(d.payload))).toEqual(['before', 'to-nc1', 'to-ns1', 'to-all']);
      expect(c2.durable.map((d) => text(d.payload))).toEqual(['to-ns2', 'to-all']);
      await Promise.all([c1.close(), c2.close()]);
    });

    it('says recovered: false for another epoch or a point ahead of the stream, and starts at the top', async () => {
      const point = await leaveAfterOne('stale-user', 'stale-user-s', 't');
      await toUser('stale-user', 'missed');
      for (const resume of [{ ...point, epoch: 'another-epoch' }, { ...point, position: point.position + 1_000_000 }]) {
        const c = await tab(b, 'stale-user', 'stale-user-s', 't', resume);
        expect(c.welcome).toMatchObject({ epoch: point.epoch, recovered: false });
        expect(c.welcome!.position).toBeGreaterThan(point.position);
        const ack = await toUser('stale-user', 'after');
        await waitFor(() => c.durable.length === 1, 5000, 'the live push');
        expect(c.durable[0]!.position).toBe(ack.seq); // nothing replayed, no `position` frame
        expect(c.positionMarks).toEqual([]);
        await c.close();
      }
    });

    it('refuses a malformed resume with 400 BAD_RESUME', async () => {
      const token = await mintToken({ sub: 'bad-resume', jti: 'bad-resume-s' });
      for (const resume of [{ position: 'x1', epoch: 'e' }, { position: '5', epoch: 'not an epoch!' }]) {
        const c = await a.connect({ token, client: 't', resume });
        expect(c.refused?.status).toBe(400);
        expect(c.refused?.body).toContain('BAD_RESUME');
      }
    });

    it('serves a reconnect storm with merged reads: 40 tabs resuming at once each get exactly their own pushes', async () => {
      const users = Array.from({ length: 20 }, (_, i) => `storm-${kind}-${i}`);
      const points = new Map<string, { position: number; epoch: string }>();
      for (const user of users) {
        const tabs = [await tab(a, user, `${user}-sa`, 'ta'), await tab(a, user, `${user}-sb`, 'tb')];
        const ack = await toUser(user, 'before');
        await waitFor(() => tabs.every((c) => c.durable.length === 1), 5000, 'the first push');
        await Promise.all(tabs.map((c) => c.close()));
        points.set(user, { position: ack.seq, epoch: tabs[0]!.welcome!.epoch! });
      }
      const expected = new Map<string, number[]>();
      const expect_ = (key: string, seq: number) => expected.set(key, [...(expected.get(key) ?? []), seq]);
      for (const user of users) {
        const all = await toUser(user, 'all');
        expect_(`${user}/ta`, all.seq);
        expect_(`${user}/tb`, all.seq);
        expect_(`${user}/ta`, (await toUser(user, 'only-ta', { client: 'ta' })).seq);
        expect_(`${user}/tb`, (await toSession(`${user}-sb`, 'session-b')).seq);
        await toUser(user, 'nobody', { session: `${user}-sa`, client: 'tb' });
      }
      const before = (await (await fetch(`${b.opsUrl}/stats`)).json()) as { durable: { merged: number; mergedClients: number } };
      const resumed = await Promise.all(
        users.flatMap((user) => [
          tab(b, user, `${user}-sa`, 'ta', points.get(user)).then((c) => [`${user}/ta`, c] as const),
          tab(b, user, `${user}-sb`, 'tb', points.get(user)).then((c) => [`${user}/tb`, c] as const),
        ]),
      );
      await waitFor(() => resumed.every(([, c]) => c.positionMarks.length === 1), 10_000, 'every replay');
      for (const [key, c] of resumed) {
        expect(c.welcome!.recovered, key).toBe(true);
        expect(c.durable.map((d) => d.position), key).toEqual(expected.get(key));
      }
      const after = (await (await fetch(`${b.opsUrl}/stats`)).json()) as { durable: { merged: number; mergedClients: number } };
      console.log(`[durable storm ${kind}] 40 resumes: ${after.durable.merged - before.durable.merged} merged reads served ${after.durable.mergedClients - before.durable.mergedClients} of them`);
      expect(after.durable.mergedClients - before.durable.mergedClients).toBeGreaterThan(1);
      await Promise.all(resumed.map(([, c]) => c.close()));
    }, 60_000);

    it('counts resumes, replayed pushes and their outcome in /stats (the metrics read them)', async () => {
      const stats = (await (await fetch(`${b.opsUrl}/stats`)).json()) as { durable?: { resumes: number; recovered: number; notRecovered: number; replayed: number; replaysWaiting: number } };
      expect(stats.durable).toBeDefined();
      expect(stats.durable!.recovered).toBeGreaterThanOrEqual(44); // away, seam, the two narrowed tabs, the storm
      expect(stats.durable!.notRecovered).toBeGreaterThanOrEqual(2);
      expect(stats.durable!.resumes).toBe(stats.durable!.recovered + stats.durable!.notRecovered);
      expect(stats.durable!.replayed).toBeGreaterThanOrEqual(500);
      expect(stats.durable!.replaysWaiting).toBe(0);
    });

    describe('with short retention and a small replay cap', () => {
      let short: TestEdge;
      const s: Subjects = createSubjects('short');
      beforeAll(async () => {
        short = await place.edge({ MESH_SUBJECT_PREFIX: 'short', MESH_DURABLE_STREAM: `SHORT_${kind}`, MESH_DURABLE_MAX_MSGS: '5', MESH_DURABLE_REPLAY_MAX: '3' });
      });
      const publish = (user: string, payload: string) => place.backend.publishStored(s.durableUser(user), bytes(payload));
      async function away(user: string): Promise<{ position: number; epoch: string }> {
        const c = await tab(short, user, `${user}-s`, 't');
        const ack = await publish(user, 'first');
        await waitFor(() => c.durable.length === 1, 5000, 'the first push');
        await c.close();
        return { position: ack.seq, epoch: c.welcome!.epoch! };
      }

      it('replays up to the cap', async () => {
        const point = await away('cap-ok');
        const acks = [await publish('cap-ok', 'a'), await publish('cap-ok', 'b'), await publish('cap-ok', 'c')];
        const c = await tab(short, 'cap-ok', 'cap-ok-s', 't', point);
        expect(c.welcome!.recovered).toBe(true);
        await waitFor(() => c.positionMarks.length === 1, 5000, 'the replay');
        expect(c.durable.map((d) => d.position)).toEqual(acks.map((x) => x.seq));
        await c.close();
      });

      it('says recovered: false past the cap, then delivers only new pushes', async () => {
        const point = await away('cap-over');
        for (const p of ['a', 'b', 'c', 'd']) await publish('cap-over', p);
        const c = await tab(short, 'cap-over', 'cap-over-s', 't', point);
        expect(c.welcome!.recovered).toBe(false);
        const ack = await publish('cap-over', 'new');
        await waitFor(() => c.durable.length === 1, 5000, 'the new push');
        expect([c.durable[0]!.position, text(c.durable[0]!.payload)]).toEqual([ack.seq, 'new']);
        await c.close();
      });

      it('says recovered: false when the missed range is older than retention, then delivers only new pushes', async () => {
        const point = await away('retention');
        // Another user's pushes push this user's out of the 5-message stream.
        for (let i = 0; i < 6; i++) await publish('someone-else', `x${i}`);
        const c = await tab(short, 'retention', 'retention-s', 't', point);
        expect(c.welcome!.recovered).toBe(false);
        const ack = await publish('retention', 'new');
        await waitFor(() => c.durable.length === 1, 5000, 'the new push');
        expect(c.durable.map((d) => d.position)).toEqual([ack.seq]);
        await c.close();
      });

      it('opens a deleted stream again with a new epoch: resumes from the old one are not recovered', async () => {
        const point = await away('recreated');
        await (await place.backend.stream(`SHORT_${kind}`)).delete();
        // The first connect after the deletion finds the stream unreadable (closed, retry); the edge opens it again.
        const c = await waitFor(
          async () => {
            const attempt = await short.connect({ token: await mintToken({ sub: 'recreated', jti: 'recreated-s' }), client: 't', resume: point });
            return attempt.welcome !== undefined ? attempt : undefined;
          },
          10_000,
          'a welcome after the stream was opened again',
        );
        expect(c.welcome!.recovered).toBe(false);
        expect(c.welcome!.epoch).not.toBe(point.epoch);
        const ack = await publish('recreated', 'new');
        await waitFor(() => c.durable.length === 1, 5000, 'a push into the new stream');
        expect(c.durable[0]!.position).toBe(ack.seq);
        await c.close();
      });
    });
  });
}

function narrowing(narrow: { session?: string; client?: string }): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  if (narrow.session !== undefined) headers[Header.Session] = encodeId(narrow.session);
  if (narrow.client !== undefined) headers[Header.Client] = encodeId(narrow.client);
  return Object.keys(headers).length > 0 ? headers : undefined;
}

durableSuite('memory', memoryPlace);
durableSuite('nats', natsPlace);

describe('a durable push lost on the way to an edge', () => {
  let place: Awaited<ReturnType<typeof memoryPlace>>;
  let t: TestEdge;
  beforeAll(async () => {
    place = await memoryPlace();
    t = await place.edge();
  });
  afterAll(() => place?.stop());

  it('closes the group\'s connections with RESUME_REQUIRED (4014); their resume replays it', async () => {
    const subjects = createSubjects('mesh');
    const c = await t.connect({ token: await mintToken({ sub: 'gap-user', jti: 's' }), client: 't' });
    const first = await place.backend.publishStored(subjects.durableUser('gap-user'), bytes('one'));
    await waitFor(() => c.durable.length === 1, 5000, 'the first push');
    place.testBus.setDeaf(true); // the edge's subscription silently misses the next push
    const lost = await place.backend.publishStored(subjects.durableUser('gap-user'), bytes('two'));
    place.testBus.setDeaf(false);
    await place.backend.publishStored(subjects.durableUser('gap-user'), bytes('three'));
    await waitFor(() => c.closed, 5000, 'the close');
    expect(c.closed!.code).toBe(4014);
    expect(c.durable.map((d) => d.position)).toEqual([first.seq]);
    const again = await t.connect({ token: await mintToken({ sub: 'gap-user', jti: 's' }), client: 't', resume: { position: first.seq, epoch: c.welcome!.epoch! } });
    await waitFor(() => again.positionMarks.length === 1, 5000, 'the replay');
    expect(again.durable.map((d) => [d.position, text(d.payload)])).toEqual([
      [lost.seq, 'two'],
      [lost.seq + 1, 'three'],
    ]);
  });
});

describe('a durable push stored while the edge\'s NATS connection is down', () => {
  let nats: NatsServerHandle;
  let proxy: TcpProxy;
  let edgeBus: Bus;
  let backend: Bus;
  let t: TestEdge;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    proxy = await startTcpProxy(nats.port);
    edgeBus = await connectNatsBus({ servers: proxy.url, name: 'edge-behind-proxy' });
    backend = await connectNatsBus({ servers: nats.url, name: 'backend' });
    t = await startTestEdge({ bus: edgeBus });
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
    await edgeBus?.close();
    await backend?.close();
    await proxy?.close();
    await nats?.stop();
  });

  it('tells the tabs it was for to resume (4014) as soon as NATS is back, without waiting for another push; the resume replays it', async () => {
    const subjects = createSubjects('mesh');
    const token = await mintToken({ sub: 'away-nats', jti: 'away-nats-s' });
    const c = await t.connect({ token, client: 't' });
    const bystander = await t.connect({ token: await mintToken({ sub: 'bystander', jti: 'bystander-s' }), client: 't' });
    const first = await backend.publishStored(subjects.durableUser('away-nats'), bytes('one'));
    await waitFor(() => c.durable.length === 1, 5000, 'the first push');
    proxy.cut();
    await waitFor(() => !edgeBus.isConnected(), 10_000, 'the edge to notice');
    const missed = await backend.publishStored(subjects.durableUser('away-nats'), bytes('two'));
    proxy.heal();
    await waitFor(() => c.closed, 15_000, 'the close after the reconnect');
    expect(c.closed!.code).toBe(4014);
    expect(bystander.closed).toBeUndefined(); // nothing was stored for it
    const again = await t.connect({ token, client: 't', resume: { position: first.seq, epoch: c.welcome!.epoch! } });
    await waitFor(() => again.positionMarks.length === 1, 5000, 'the replay');
    expect(again.durable.map((d) => [d.position, text(d.payload)])).toEqual([[missed.seq, 'two']]);
  }, 60_000);
});

describe('durable pushes turned off (MESH_DURABLE=false)', () => {
  let t: TestEdge;
  beforeAll(async () => {
    t = await startTestEdge({ env: { MESH_DURABLE: 'false' } });
  });
  afterAll(() => t?.stop());

  it('creates no push stream, welcomes without epoch/position/recovered, and still delivers at-most-once pushes', async () => {
    const c = await t.connect({ token: await mintToken({ sub: 'no-durable', jti: 'no-durable-s' }), client: 't' });
    expect(c.welcome).toBeDefined();
    expect(c.welcome).not.toHaveProperty('epoch');
    expect(c.welcome).not.toHaveProperty('recovered');
    await expect(t.bus.publishStored(createSubjects('mesh').durableUser('no-durable'), bytes('x'))).rejects.toThrow(/stream/i);
    t.pushUser('no-durable', 'live');
    expect(text(await c.nextPush())).toBe('live');
    const stats = (await (await fetch(`${t.opsUrl}/stats`)).json()) as { durable?: unknown };
    expect(stats.durable).toBeUndefined();
  });
});
