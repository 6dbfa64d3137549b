/**
 * The SDK's side of durable pushes against a real edge and nats-server: positions on every durable
 * push, an exact resume after the edge is SIGKILLed while pushes are stored (replayed pushes flagged
 * `recovered`, none twice, in order), and an explicit `recovered: false` for a point the stream
 * cannot honour.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type MeshClient, type Push, type ResumeInfo, type StorageLike, type WebSocketConstructor } from '@session-mesh/client';
import { eventually } from '../support/processes.js';
import { bytes, startClientTopology, subjects, type ClientTopology } from './topology.js';

let mesh: ClientTopology;
const clients: MeshClient[] = [];

beforeAll(async () => {
  mesh = await startClientTopology();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await mesh?.stop();
});

function memoryStorage(): StorageLike & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
}

function sdk(user: string, storage: StorageLike) {
  const pushes: Push[] = [];
  const resumes: ResumeInfo[] = [];
  const welcomes: string[] = [];
  return mesh.token({ sub: user }).then((token) => {
    const client = createClient({ url: mesh.url, token, storage, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 50, maxMs: 500 } });
    client.onPush((p) => pushes.push(p));
    client.on('resume', (r) => resumes.push(r));
    client.on('welcome', (w) => welcomes.push(w.conn));
    clients.push(client);
    return { client, pushes, resumes, welcomes };
  });
}

const durable = (user: string, text: string) => mesh.backend.publishStored(subjects.durableUser(user), bytes(text));
const view = (pushes: Push[]) => pushes.map((p) => ({ text: p.text(), recovered: p.recovered ?? false }));

describe('durable pushes through the SDK', () => {
  it('resumes exactly after the edge is SIGKILLed: the missed pushes replayed in order and flagged, none twice', async () => {
    const storage = memoryStorage();
    const s = await sdk('resume-user', storage);
    const welcome = await s.client.connect();
    expect(welcome.epoch).toEqual(expect.any(String));
    expect(welcome.recovered).toBe(false);

    await durable('resume-user', 'd1');
    await eventually(() => s.pushes.length === 1, 'the first durable push');
    const first = s.pushes[0]!;
    expect(first.position).toEqual(expect.any(Number));
    expect(s.client.position).toEqual({ epoch: welcome.epoch, position: first.position });
    expect(storage.map.get('session-mesh.client.resume')).toBe(`${welcome.epoch} ${first.position}`);

    await mesh.edge().kill();
    await eventually(() => s.client.state !== 'open', 'the client to notice the kill');
    // Stored by JetStream while no edge holds the client.
    const acks = [await durable('resume-user', 'd2'), await durable('resume-user', 'd3')];
    await mesh.startEdge();
    await eventually(() => s.resumes.length === 1 && s.client.state === 'open', 'the resume', 20_000);
    expect(s.resumes[0]).toMatchObject({ recovered: true, epoch: welcome.epoch });
    await durable('resume-user', 'd4');
    await eventually(() => s.pushes.length >= 4, 'the replay and a live push');
    expect(view(s.pushes)).toEqual([
      { text: 'd1', recovered: false },
      { text: 'd2', recovered: true },
      { text: 'd3', recovered: true },
      { text: 'd4', recovered: false },
    ]);
    const positions = s.pushes.map((p) => p.position!);
    expect(positions.slice(1, 3)).toEqual(acks.map((a) => a.seq));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(s.welcomes).toHaveLength(2);
  });

  it('says recovered: false when the stored point is from another epoch, and goes on from the new one', async () => {
    const storage = memoryStorage();
    storage.setItem('session-mesh.client.resume', 'some-other-epoch 5');
    const s = await sdk('stale-user', storage);
    const welcome = await s.client.connect();
    expect(welcome.recovered).toBe(false);
    expect(s.resumes).toEqual([{ recovered: false, epoch: welcome.epoch, position: welcome.position }]);
    expect(storage.map.get('session-mesh.client.resume')).toBe(`${welcome.epoch} ${welcome.position}`);
    await durable('stale-user', 'fresh');
    await eventually(() => s.pushes.length === 1, 'a durable push after the restart');
    expect(s.pushes[0]!.position).toBeGreaterThan(welcome.position!);
  });
});
