import type { Metrics } from './metrics.js';

/** Traffic counters of a bus connection (nats.js `nc.stats()`, plus what is buffered unsent). */
export interface BusTrafficStats {
  readonly inMsgs: number;
  readonly outMsgs: number;
  readonly inBytes: number;
  readonly outBytes: number;
  /** Bytes published but not yet written to the server's socket (grows while disconnected). */
  readonly pendingBytes: number;
}

/** The part of @session-mesh/bus's Bus these metrics read (structural: runtime does not depend on bus). */
export interface ObservableBus {
  readonly kind: string;
  onEvent(listener: (event: { readonly type: string }) => void): () => void;
  isConnected(): boolean;
  /** Optional: buses that count their traffic get mesh_bus_{messages,bytes}_total and pending bytes. */
  stats?(): BusTrafficStats;
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
  const counted = buses.filter((b) => b.bus.stats !== undefined);
  if (counted.length === 0) return;
  const read = () => counted.map(({ connection, bus }) => ({ connection, s: bus.stats!() }));
  metrics.counterFromLabelled('mesh_bus_messages_total', 'Messages through the bus connection, by direction.', ['connection', 'direction'], () =>
    read().flatMap(({ connection, s }) => [[{ connection, direction: 'in' }, s.inMsgs], [{ connection, direction: 'out' }, s.outMsgs]] as const),
  );
  metrics.counterFromLabelled('mesh_bus_bytes_total', 'Bytes through the bus connection, by direction.', ['connection', 'direction'], () =>
    read().flatMap(({ connection, s }) => [[{ connection, direction: 'in' }, s.inBytes], [{ connection, direction: 'out' }, s.outBytes]] as const),
  );
  metrics.gaugeFromLabelled('mesh_bus_pending_bytes', 'Bytes published but not yet written to the NATS server.', ['connection'], () => read().map(({ connection, s }) => [{ connection }, s.pendingBytes] as const));
}
