import type { Metrics } from './metrics.js';

/** The part of @session-mesh/bus's Bus these metrics read (structural: runtime does not depend on bus). */
export interface ObservableBus {
  readonly kind: string;
  onEvent(listener: (event: { readonly type: string }) => void): () => void;
  isConnected(): boolean;
}

/**
 * NATS connection health of one bus connection: connected, disconnects, reconnects, and errors the
 * server reported asynchronously (refused subscriptions...). `connection` names it when a process
 * holds several (services/mesh). Event-driven: connection changes are rare.
 */
export function registerBusMetrics(metrics: Metrics, buses: ReadonlyArray<{ readonly connection: string; readonly bus: ObservableBus }>): void {
  const events = metrics.counter('mesh_bus_events_total', 'Bus connection events: disconnected, reconnected, error, subscription-error.', ['connection', 'event']);
  for (const { connection, bus } of buses) {
    for (const event of ['disconnected', 'reconnected', 'error', 'subscription-error']) events.inc({ connection, event }, 0);
    bus.onEvent((event) => events.inc({ connection, event: event.type }));
  }
  metrics.gaugeFromLabelled('mesh_bus_connected', '1 while the bus connection is up.', ['connection', 'kind'], () =>
    buses.map(({ connection, bus }) => [{ connection, kind: bus.kind }, bus.isConnected() ? 1 : 0] as const),
  );
}
