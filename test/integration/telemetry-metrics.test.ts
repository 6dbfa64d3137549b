/**
 * Must show 2 of issue 10: a scrape of /metrics on each service's ops port, during real traffic
 * (connects, a refused upgrade, pushes from the admin API and from a backend, a client message,
 * admin requests), contains the metrics docs/operations.md lists, with the values that traffic implies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_AT_HEADER } from '@session-mesh/runtime';
import { ADMIN_TOKEN, bytes, subjects, text } from '../support/mesh-cluster.js';
import { eventually } from '../support/processes.js';
import { mintToken } from '../support/tokens.js';
import { connectClient, type MeshClient } from '../support/ws-client.js';
import { startTelemetryTopology, type TelemetryTopology } from '../monitoring/telemetry-topology.js';

let topo: TelemetryTopology;
let alice: MeshClient;

beforeAll(async () => {
  topo = await startTelemetryTopology();
}, 90_000);

afterAll(async () => {
  await alice?.close();
  await topo?.stop();
});

describe('Prometheus scrape of real services', () => {
  it('counts connects, refusals, pushes, client messages and admin requests', async () => {
    alice = await connectClient({ url: topo.edgeUrl(), token: await mintToken({ sub: 'alice' }) });
    expect(alice.welcome?.user).toBe('alice');
    const refused = await connectClient({ url: topo.edgeUrl(), token: await mintToken({ sub: 'mallory', secret: 'a-wrong-secret-0123456789abcdef0123456' }) });
    expect(refused.refused?.status).toBe(401);

    // The registry must know alice before a push is sure to find her subscription in place.
    await eventually(async () => (await topo.scrape(topo.registry)).value('mesh_registry_connections') === 1, 'registry counts alice');

    const pushed = await fetch(`${topo.adminUrl()}/v1/users/alice/push`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: 'from admin' });
    expect(pushed.status).toBe(202);
    const denied = await fetch(`${topo.adminUrl()}/v1/users/alice/push`, { method: 'POST', headers: { authorization: 'Bearer not-a-token' }, body: 'x' });
    expect(denied.status).toBe(401);
    // A backend may set Mesh-Published-At too (docs/subjects.md): 50 ms ago, so the latency is at least that.
    topo.backend.publish(subjects.pushUser('alice'), bytes('from backend'), { [PUBLISHED_AT_HEADER]: String(Date.now() - 50) });
    await eventually(() => alice.pushes.length === 2, 'both pushes arrive');
    expect(alice.pushes.map(text).sort()).toEqual(['from admin', 'from backend']);
    alice.sendMessage('chat', 'hello');

    const edge = await eventually(async () => {
      const s = await topo.scrape(topo.edge);
      return s.value('mesh_edge_messages_in_total', { kind: 'message' }) === 1 ? s : undefined;
    }, 'the edge counts the client message');
    expect(edge.value('mesh_edge_connections')).toBe(1);
    expect(edge.value('mesh_edge_connections_welcomed')).toBe(1);
    expect(edge.value('mesh_edge_users')).toBe(1);
    expect(edge.value('mesh_edge_upgrades_total', { outcome: 'accepted' })).toBe(1);
    expect(edge.value('mesh_edge_upgrades_total', { outcome: 'refused' })).toBe(1);
    expect(edge.value('mesh_edge_messages_out_total', { kind: 'push' })).toBe(2);
    // welcome, at least
    expect(edge.value('mesh_edge_messages_out_total', { kind: 'other' })).toBeGreaterThanOrEqual(1);
    expect(edge.value('mesh_edge_limit_refusals_total', { limit: 'edge_full' })).toBe(0);
    expect(edge.value('mesh_edge_backpressure_drops_total')).toBe(0);
    expect(edge.value('mesh_edge_slow_consumer_closes_total')).toBe(0);
    expect(edge.value('mesh_bus_connected', { connection: 'edge', kind: 'nats' })).toBe(1);
    expect(edge.value('mesh_bus_events_total', { connection: 'edge', event: 'reconnected' })).toBe(0);
    expect(edge.families.get('mesh_edge_upgrades_total')).toBe('counter');
    expect(edge.families.get('mesh_edge_connections')).toBe('gauge');
    // Durable pushes are on by default: their families are there; alice connected without a resume point.
    expect(edge.value('mesh_edge_durable_resumes_total', { outcome: 'recovered' })).toBe(0);
    expect(edge.value('mesh_edge_durable_replay_reads_total', { kind: 'merged' })).toBe(0);
    expect(edge.value('mesh_edge_durable_gaps_total')).toBe(0);
    expect(edge.families.get('mesh_edge_durable_replays_waiting')).toBe('gauge');
    expect(edge.value('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    // Auth failures by reason; connect and push latency histograms.
    expect(edge.value('mesh_edge_upgrades_refused_total', { error: 'UNAUTHORIZED' })).toBe(1);
    expect(edge.families.get('mesh_edge_connect_latency_seconds')).toBe('histogram');
    expect(edge.value('mesh_edge_connect_latency_seconds_count')).toBe(1);
    expect(edge.value('mesh_edge_connect_latency_seconds_sum')).toBeGreaterThan(0);
    expect(edge.value('mesh_edge_connect_latency_seconds_sum')).toBeLessThan(5);
    expect(edge.value('mesh_edge_connect_latency_seconds_bucket', { le: '+Inf' })).toBe(1);
    // The admin push (header set by the admin API) and the backend's: both timed.
    expect(edge.value('mesh_edge_push_latency_seconds_count')).toBe(2);
    expect(edge.value('mesh_edge_push_latency_seconds_sum')).toBeGreaterThanOrEqual(0.05);
    expect(edge.value('mesh_edge_push_latency_seconds_sum')).toBeLessThan(10);
    expect(edge.value('mesh_edge_push_latency_seconds_bucket', { le: '5' })).toBe(2);
    // NATS traffic of the edge's connection: the two pushes (and canaries, snapshots) came in.
    expect(edge.value('mesh_bus_messages_total', { connection: 'edge', direction: 'in' })).toBeGreaterThanOrEqual(2);
    expect(edge.value('mesh_bus_bytes_total', { connection: 'edge', direction: 'out' })).toBeGreaterThan(0);
    expect(edge.value('mesh_bus_pending_bytes', { connection: 'edge' })).toBeGreaterThanOrEqual(0);
    expect(edge.value('mesh_bus_pending_bytes', { connection: 'edge' })).toBeLessThan(1024 * 1024);

    const registry = await topo.scrape(topo.registry);
    expect(registry.value('mesh_registry_users')).toBe(1);
    expect(registry.value('mesh_registry_edge_connections', { edge: 'edge-0' })).toBe(1);
    expect(registry.value('mesh_registry_leader')).toBe(1);
    // It gained the lease once (a lone replica) and never lost it.
    expect(registry.value('mesh_registry_leader_changes_total')).toBe(1);
    expect(registry.value('mesh_registry_ready')).toBe(1);

    const admin = await topo.scrape(topo.admin);
    expect(admin.value('mesh_admin_requests_total', { route: '/v1/users/{userId}/push', method: 'POST', status: '202' })).toBe(1);
    expect(admin.value('mesh_admin_requests_total', { route: '/v1/users/{userId}/push', method: 'POST', status: '401' })).toBe(1);
    expect(admin.value('mesh_admin_request_duration_seconds_count', { route: '/v1/users/{userId}/push', method: 'POST' })).toBe(2);
    // No label value carries a user id: routes are OpenAPI templates.
    expect(admin.samples.some((s) => Object.values(s.labels).some((v) => v.includes('alice')))).toBe(false);

    await alice.close();
    const closed = await eventually(async () => {
      const s = await topo.scrape(topo.edge);
      return s.value('mesh_edge_connections') === 0 ? s : undefined;
    }, 'the edge counts the close');
    // Disconnects by close code: alice's normal close; the refused upgrade never was a socket.
    expect(closed.value('mesh_edge_disconnects_total', { code: '1000' })).toBe(1);
    expect(closed.samples.filter((x) => x.name === 'mesh_edge_disconnects_total').reduce((n, x) => n + x.value, 0)).toBe(1);
  });
});
