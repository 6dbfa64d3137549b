import type { Metrics } from '@session-mesh/runtime';
import type { EdgeHandle } from './edge.js';

/**
 * The edge's Prometheus metrics, all read from the plain-number counters behind /stats (one
 * stats() snapshot per scrape) and the edge's plain histograms: nothing on the message path. Names
 * are the contract with deploy/monitoring (rules and dashboard) and docs/operations.md.
 */
export function registerEdgeMetrics(metrics: Metrics, edge: Pick<EdgeHandle, 'stats' | 'latency'>): void {
  let s = edge.stats();
  metrics.onScrape(() => {
    s = edge.stats();
  });
  const gauge = (name: string, help: string, read: () => number) => metrics.gaugeFrom(name, help, read);
  const counter = (name: string, help: string, read: () => number) => metrics.counterFrom(name, help, read);

  gauge('mesh_edge_connections', 'Open WebSocket connections (welcomed or not).', () => s.connections);
  gauge('mesh_edge_connections_welcomed', 'Connections announced to the registry (welcome sent).', () => s.welcomed);
  gauge('mesh_edge_users', 'Distinct users with a connection on this edge.', () => s.users);
  gauge('mesh_edge_sessions', 'Distinct sessions with a connection on this edge.', () => s.sessions);

  metrics.counterFromLabelled('mesh_edge_upgrades_total', 'WebSocket upgrades by outcome: accepted, refused (auth, origin, blacklist, limits), aborted by the client.', ['outcome'], () => [
    [{ outcome: 'accepted' }, s.upgrades.accepted],
    [{ outcome: 'refused' }, s.upgrades.refused],
    [{ outcome: 'aborted' }, s.upgrades.aborted],
  ]);
  metrics.counterFromLabelled('mesh_edge_upgrades_refused_total', 'Refused upgrades by error code: auth failures (UNAUTHORIZED, TOKEN_EXPIRED, SESSION_BLACKLISTED), ORIGIN_NOT_ALLOWED, BAD_HANDSHAKE, limits (SERVER_FULL, CONNECT_RATE_LIMITED, TOO_MANY_CONNECTIONS), NOT_READY, SERVER_DRAINING...', ['error'], () =>
    Object.entries(s.upgrades.refusedBy).map(([error, n]) => [{ error }, n] as const),
  );
  metrics.counterFromLabelled('mesh_edge_disconnects_total', 'Closed sockets by WebSocket close code (1000-1015, 4000-4099; other codes as "other").', ['code'], () =>
    Object.entries(s.connectionEvents.closedByCode).map(([code, n]) => [{ code: code === '0' ? 'other' : code }, n] as const),
  );
  metrics.histogramFrom('mesh_edge_connect_latency_seconds', 'Upgrade accepted to welcome sent (subscriptions confirmed by NATS).', edge.latency.connect);
  metrics.histogramFrom('mesh_edge_push_latency_seconds', 'Push end-to-end latency: its Mesh-Published-At header to the socket write (pushes with the header only).', edge.latency.push);
  metrics.counterFromLabelled('mesh_edge_limit_refusals_total', 'Upgrades refused by a connection limit: edge_full (503), connect_rate (503), per_user (429).', ['limit'], () => [
    [{ limit: 'edge_full' }, s.limits.full],
    [{ limit: 'connect_rate' }, s.limits.connectRate],
    [{ limit: 'per_user' }, s.limits.perUser],
  ]);
  metrics.counterFromLabelled('mesh_edge_closes_total', 'Connections the edge closed, by reason.', ['reason'], () => [
    [{ reason: 'kill' }, s.connectionEvents.kills],
    [{ reason: 'blacklist' }, s.blacklistClosed],
    [{ reason: 'token_expired' }, s.sweeps.expired],
    [{ reason: 'idle_timeout' }, s.sweeps.idleClosed],
    [{ reason: 'slow_consumer' }, s.outbound.slowConsumers],
    [{ reason: 'session_conflict' }, s.connectionEvents.sessionConflicts],
    [{ reason: 'overloaded' }, s.connectionEvents.overloaded],
  ]);

  metrics.counterFromLabelled('mesh_edge_messages_out_total', 'Frames written to sockets, by kind: push (targeted and broadcast deliveries), other (welcome, replies, errors).', ['kind'], () => [
    [{ kind: 'push' }, s.hub.deliveries],
    [{ kind: 'other' }, Math.max(0, s.outbound.frames - s.hub.deliveries)],
  ]);
  counter('mesh_edge_broadcasts_total', 'Broadcast pushes (mesh.push.all) fanned out by this edge.', () => s.hub.broadcasts);
  metrics.counterFromLabelled('mesh_edge_messages_in_total', 'Client frames accepted, by kind: message (one-way), request (awaits a reply), refresh (token refresh).', ['kind'], () => [
    [{ kind: 'message' }, s.inbound.messages],
    [{ kind: 'request' }, s.inbound.requests],
    [{ kind: 'refresh' }, s.inbound.refreshes],
  ]);
  metrics.counterFromLabelled('mesh_edge_messages_in_rejected_total', 'Client frames refused, by reason.', ['reason'], () => [
    [{ reason: 'bad_frame' }, s.inbound.badFrames],
    [{ reason: 'rate_limited' }, s.inbound.rateLimited],
    [{ reason: 'too_large' }, s.inbound.tooLarge],
    [{ reason: 'before_welcome' }, s.inbound.premature],
  ]);
  counter('mesh_edge_backpressure_drops_total', 'Frames uWebSockets.js dropped at its backpressure limit.', () => s.outbound.drops);
  counter('mesh_edge_slow_consumer_closes_total', 'Connections closed with SLOW_CONSUMER (send buffer full).', () => s.outbound.slowConsumers);
  counter('mesh_edge_pings_total', 'Idle pings sent by the once-a-second sweep.', () => s.sweeps.pings);

  counter('mesh_edge_bad_headers_total', 'Pushes or kills whose narrowing header is not a valid encoded id (delivered to nobody).', () => s.broker.badHeaders);
  counter('mesh_edge_bus_errors_total', 'Bus errors seen by the edge broker (publish or subscribe failures).', () => s.broker.busErrors);
  counter('mesh_edge_canary_sent_total', 'Delivery canaries published through the cluster.', () => s.canary.sent);
  counter('mesh_edge_canary_received_total', 'Delivery canaries that came back through this edge’s subscriptions.', () => s.canary.received);
  counter('mesh_edge_canary_failures_total', 'Times the delivery path was declared broken (readiness failed).', () => s.canary.failures);
  metrics.counterFromLabelled('mesh_edge_durable_resumes_total', 'Connects that sent a resume point, by outcome: recovered (exact replay) or not_recovered (older than retention, another epoch, past the replay cap).', ['outcome'], () => [
    [{ outcome: 'recovered' }, s.durable?.recovered ?? 0],
    [{ outcome: 'not_recovered' }, s.durable?.notRecovered ?? 0],
  ]);
  metrics.counterFromLabelled('mesh_edge_durable_replay_reads_total', 'Reads of the push stream for resuming clients: single (one client\'s subjects) or merged (one pass for clients resuming together).', ['kind'], () => [
    [{ kind: 'single' }, s.durable?.single ?? 0],
    [{ kind: 'merged' }, s.durable?.merged ?? 0],
  ]);
  counter('mesh_edge_durable_replayed_total', 'Durable pushes read from the push stream for resuming clients.', () => s.durable?.replayed ?? 0);
  counter('mesh_edge_durable_gaps_total', 'Breaks in the push stream\'s republish chain seen by this edge (affected connections told to resume with 4014).', () => s.durable?.gaps ?? 0);
  gauge('mesh_edge_durable_replays_waiting', 'Resumes waiting for a replay slot (reconnect storms).', () => s.durable?.replaysWaiting ?? 0);
  gauge('mesh_edge_blacklist_entries', 'Blacklist entries this edge holds (its copy of the KV bucket).', () => s.blacklistEntries);
  gauge('mesh_edge_event_loop_max_delay_seconds', 'Longest event-loop stall seen by the stall monitor in its last window.', () => s.eventLoopMaxDelayMs / 1000);
}
