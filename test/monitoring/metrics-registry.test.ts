/**
 * The runtime's Metrics registry and its scrape-time readers (pure logic): plain-number counters and
 * gauges read in collect(), PlainHistogram exposed as a Prometheus histogram, bus connection metrics,
 * and the admin API's route templating (no ids in label values).
 */
import { describe, expect, it } from 'vitest';
import { Metrics, PlainHistogram, publishedAtAgeMs, registerBusMetrics, type BusTrafficStats } from '@session-mesh/runtime';
import { routeMatcher } from '../../services/admin/src/metrics.js';
import { parsePrometheusText } from './prometheus-text.js';

describe('Metrics', () => {
  it('reads plain numbers at scrape time, runs onScrape hooks first, and shows unlabelled counters at 0', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const counters = { sent: 0, dropped: 0 };
    let snapshot = { ...counters };
    metrics.onScrape(() => (snapshot = { ...counters }));
    metrics.counterFrom('t_sent_total', 'sent', () => snapshot.sent);
    metrics.counterFrom('t_dropped_total', 'dropped', () => snapshot.dropped);
    metrics.gaugeFromLabelled('t_open', 'open', ['edge'], () => [[{ edge: 'a' }, 3], [{ edge: 'b' }, 0]]);
    counters.sent = 42;
    const s = parsePrometheusText(await metrics.scrape());
    expect(s.value('t_sent_total')).toBe(42);
    expect(s.value('t_dropped_total')).toBe(0);
    expect(s.value('t_open', { edge: 'b' })).toBe(0);
    expect(s.families.get('t_sent_total')).toBe('counter');
    counters.sent = 50;
    expect(parsePrometheusText(await metrics.scrape()).value('t_sent_total')).toBe(50);
  });

  it('exposes a PlainHistogram with cumulative buckets, +Inf, sum and count', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const h = new PlainHistogram([0.01, 0.1, 1]);
    for (const v of [0.005, 0.01, 0.05, 0.5, 3]) h.observe(v);
    metrics.histogramFrom('t_latency_seconds', 'latency', h);
    const s = parsePrometheusText(await metrics.scrape());
    expect(s.families.get('t_latency_seconds')).toBe('histogram');
    expect([0.01, 0.1, 1].map((le) => s.value('t_latency_seconds_bucket', { le: String(le) }))).toEqual([2, 3, 4]);
    expect(s.value('t_latency_seconds_bucket', { le: '+Inf' })).toBe(5);
    expect(s.value('t_latency_seconds_count')).toBe(5);
    expect(s.value('t_latency_seconds_sum')).toBeCloseTo(3.565, 6);
    expect(() => new PlainHistogram([1, 1])).toThrow(/must increase/);
  });

  it('counts bus events and reads traffic stats when the bus has them', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const listeners: Array<(e: { type: string }) => void> = [];
    let connected = true;
    const traffic: BusTrafficStats = { inMsgs: 7, outMsgs: 3, inBytes: 700, outBytes: 300, pendingBytes: 12 };
    const bus = { kind: 'nats', onEvent: (l: (e: { type: string }) => void) => (listeners.push(l), () => undefined), isConnected: () => connected, stats: () => traffic };
    registerBusMetrics(metrics, [{ connection: 'edge', bus }]);
    listeners.forEach((l) => l({ type: 'disconnected' }));
    connected = false;
    let s = parsePrometheusText(await metrics.scrape());
    expect(s.value('mesh_bus_connected', { connection: 'edge' })).toBe(0);
    expect(s.value('mesh_bus_events_total', { event: 'disconnected' })).toBe(1);
    expect(s.value('mesh_bus_events_total', { event: 'reconnected' })).toBe(0);
    expect(s.value('mesh_bus_messages_total', { direction: 'in' })).toBe(7);
    expect(s.value('mesh_bus_bytes_total', { direction: 'out' })).toBe(300);
    expect(s.value('mesh_bus_pending_bytes')).toBe(12);
    listeners.forEach((l) => l({ type: 'reconnected' }));
    connected = true;
    s = parsePrometheusText(await metrics.scrape());
    expect(s.value('mesh_bus_connected', { connection: 'edge' })).toBe(1);
    expect(s.value('mesh_bus_events_total', { event: 'reconnected' })).toBe(1);
  });
});

describe('admin route templates', () => {
  const routeOf = routeMatcher(['/v1/users/{userId}/push', '/v1/users/{userId}/clients/{clientId}/push', '/v1/stats']);
  it('maps concrete paths to their OpenAPI template and anything else to other', () => {
    expect(routeOf('/v1/users/alice/push')).toBe('/v1/users/{userId}/push');
    expect(routeOf('/v1/users/alice/clients/tab-1/push')).toBe('/v1/users/{userId}/clients/{clientId}/push');
    expect(routeOf('/v1/stats')).toBe('/v1/stats');
    expect(routeOf('/v1/users/alice/bob/push')).toBe('other');
    expect(routeOf('/v1/users/a.b/push')).toBe('/v1/users/{userId}/push');
    expect(routeOf('/wp-admin/../etc')).toBe('other');
  });
});

describe('Mesh-Published-At', () => {
  it('gives the age in ms, and undefined for malformed or implausible values', () => {
    const now = 1_760_000_000_000;
    expect(publishedAtAgeMs(String(now - 25), now)).toBe(25);
    expect(publishedAtAgeMs(String(now + 500), now)).toBe(0);
    for (const bad of ['', 'abc', '1.5', String(now + 120_000), String(now - 2 * 86_400_000), '1'.repeat(17), '-1e3']) expect(publishedAtAgeMs(bad, now), bad).toBeUndefined();
  });
});
