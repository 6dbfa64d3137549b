import type { Bus, BusMessage, BusSubscription } from '@session-mesh/bus';
import {
  parseConnectEvent,
  parseDisconnectEvent,
  parseHeartbeatEvent,
  parseSnapshotEvent,
  type ConnectEvent,
  type ConnectionRecord,
  type DisconnectEvent,
  type HeartbeatEvent,
  type Parsed,
  type SnapshotEvent,
  type Subjects,
} from '@session-mesh/protocol';
import { createRateLimitedLog, type Logger } from '@session-mesh/runtime';

export interface EventHandlers {
  connect(event: ConnectEvent): void;
  disconnect(event: DisconnectEvent): void;
  heartbeat(event: HeartbeatEvent): void;
  snapshot(event: SnapshotEvent): void;
}

export interface EventIntake {
  /** Invalid events dropped so far, per kind. */
  dropped(): Readonly<Record<'connect' | 'disconnect' | 'heartbeat' | 'snapshot', number>>;
  stop(): void;
}

/**
 * Edge events in, validated handlers out. Every replica subscribes WITHOUT a queue group: each
 * keeps a full copy of the presence state. A malformed event (bad JSON, wrong schema, an id that
 * could never be put into a subject: the protocol's parsers apply the id rule) or a connection
 * record naming another edge than its event is dropped whole and logged at most once per 10 s per kind.
 */
export function startEventIntake(deps: { bus: Bus; subjects: Subjects; logger: Logger; handlers: EventHandlers }): EventIntake {
  const { bus, subjects, handlers } = deps;
  const logger = deps.logger.child({ component: 'event-intake' });
  const warn = createRateLimitedLog(logger);
  const dropped = { connect: 0, disconnect: 0, heartbeat: 0, snapshot: 0 };

  function intake<T>(kind: keyof typeof dropped, parse: (data: Uint8Array) => Parsed<T>, check: (value: T) => string | undefined, handle: (value: T) => void) {
    return (msg: BusMessage): void => {
      const parsed = parse(msg.data);
      const problem = parsed.ok ? check(parsed.value) : parsed.error;
      if (!parsed.ok || problem !== undefined) {
        dropped[kind]++;
        warn(kind, { subject: msg.subject, problem, bytes: msg.data.length, droppedTotal: dropped[kind] }, `dropped an invalid ${kind} event`);
        return;
      }
      try {
        handle(parsed.value);
      } catch (err) {
        logger.error({ err, subject: msg.subject }, `failed to apply a ${kind} event`);
      }
    };
  }

  const subscriptions: BusSubscription[] = [
    bus.subscribe(
      subjects.eventConnect(),
      intake('connect', parseConnectEvent, (e) => recordProblem(e.connection, e.edge, 'connection'), (e) => handlers.connect(e)),
    ),
    bus.subscribe(
      subjects.eventDisconnect(),
      intake('disconnect', parseDisconnectEvent, () => undefined, (e) => handlers.disconnect(e)),
    ),
    bus.subscribe(
      subjects.eventHeartbeat(),
      intake(
        'heartbeat',
        parseHeartbeatEvent,
        (e) => (e.intervalMs === 0 ? 'intervalMs must be > 0' : undefined),
        (e) => handlers.heartbeat(e),
      ),
    ),
    bus.subscribe(
      subjects.eventSnapshot(),
      intake(
        'snapshot',
        parseSnapshotEvent,
        (e) => {
          for (let i = 0; i < e.connections.length; i++) {
            const q = recordProblem(e.connections[i]!, e.edge, `connections[${i}]`);
            if (q !== undefined) return q;
          }
          return undefined;
        },
        (e) => handlers.snapshot(e),
      ),
    ),
  ];

  return {
    dropped: () => ({ ...dropped }),
    stop: () => {
      for (const s of subscriptions) s.unsubscribe();
    },
  };
}

function recordProblem(r: ConnectionRecord, edge: string, path: string): string | undefined {
  return r.edge === edge ? undefined : `${path}.edge must equal the event's edge`;
}
