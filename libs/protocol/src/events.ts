import { encodeId, idProblem } from './ids.js';

/**
 * Event schemas: what edges publish about their connections and what the registry publishes about
 * presence. Bodies are JSON with raw (not encoded) ids. Every consumer validates on receipt with
 * the parse* functions below: a malformed event is reported and dropped, never half-applied.
 */
export const EVENT_VERSION = 1;

export interface ConnectionRecord {
  readonly conn: string;
  readonly user: string;
  readonly session: string;
  readonly client: string;
  readonly edge: string;
  /** ms since the epoch */
  readonly connectedAt: number;
  /** ms since the epoch: last frame received from this connection (per tab) */
  readonly lastActivity: number;
}

/**
 * The Nats-Msg-Id of each lifecycle event: the events stream (JetStream, duplicate window) stores
 * a repeated publish of one event once (a retried publish, two registry leaders in a hand-over).
 */
export const eventMsgId = {
  connect: (conn: string): string => `connect.${conn}`,
  disconnect: (conn: string): string => `disconnect.${conn}`,
  presence: (user: string, status: 'online' | 'offline', at: number): string => `presence.${encodeId(user)}.${status}.${at}`,
} as const;

export interface ConnectEvent {
  readonly v: number;
  readonly edge: string;
  readonly at: number;
  readonly connection: ConnectionRecord;
  /** True when the client came back with a durable position (the same tab resuming). */
  readonly resumed?: boolean;
}

export interface DisconnectEvent {
  readonly v: number;
  readonly edge: string;
  readonly at: number;
  readonly conn: string;
  readonly user: string;
  readonly session: string;
  readonly client: string;
  /** WebSocket close code, or 0 when the registry purged a lost edge. */
  readonly code: number;
  readonly reason: string;
}

export interface HeartbeatEvent {
  readonly v: number;
  readonly edge: string;
  readonly at: number;
  /** How often this edge sends heartbeats; the registry declares it lost after a few missed ones. */
  readonly intervalMs: number;
  /** Connections open on this edge right now (lets the registry detect drift and ask for a snapshot). */
  readonly connections: number;
  /** [connection id, last activity] for connections active since the previous heartbeat. */
  readonly activity: ReadonlyArray<readonly [string, number]>;
}

export interface SnapshotEvent {
  readonly v: number;
  readonly edge: string;
  readonly at: number;
  /** Same for every part of one snapshot. */
  readonly snapshotId: string;
  /** 0-based part index and part count: large edges split a snapshot below NATS's max payload. */
  readonly part: number;
  readonly parts: number;
  readonly connections: readonly ConnectionRecord[];
}

export interface PresenceEvent {
  readonly v: number;
  readonly user: string;
  readonly status: 'online' | 'offline';
  readonly at: number;
  /** Connections the user has across the cluster after this change. */
  readonly connections: number;
}

/** Registry answers. */
export interface ConnectionsReply {
  readonly connections: readonly ConnectionRecord[];
}
export interface StatsReply {
  readonly edges: ReadonlyArray<{ readonly edge: string; readonly connections: number; readonly lastHeartbeat: number }>;
  readonly users: number;
  readonly sessions: number;
  readonly connections: number;
}

/**
 * What a registry replica answers instead of a reply it cannot give: `bad_request` for a query
 * subject it cannot parse, `internal` when answering failed.
 */
export const RegistryErrorCode = {
  BAD_REQUEST: 'bad_request',
  INTERNAL: 'internal',
} as const;
export type RegistryErrorCodeValue = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];
export interface RegistryErrorReply {
  readonly error: RegistryErrorCodeValue;
  /** For people: why the query was refused. */
  readonly message: string;
}

type Check<T> = (value: unknown, path: string) => T;
class SchemaError extends Error {}

const str: Check<string> = (v, path) => {
  if (typeof v !== 'string') throw new SchemaError(`${path} must be a string`);
  return v;
};
/** Ids follow THE id rule (ids.ts): whatever passes here can be put into a subject. */
const id: Check<string> = (v, path) => {
  const s = str(v, path);
  const problem = idProblem(s);
  if (problem !== undefined) throw new SchemaError(`${path} ${problem}`);
  return s;
};
const num: Check<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SchemaError(`${path} must be a finite number`);
  return v;
};
const int: Check<number> = (v, path) => {
  const n = num(v, path);
  if (!Number.isInteger(n) || n < 0) throw new SchemaError(`${path} must be a non-negative integer`);
  return n;
};
function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SchemaError(`${path} must be an object`);
  return v as Record<string, unknown>;
}
function arr<T>(v: unknown, path: string, item: Check<T>): T[] {
  if (!Array.isArray(v)) throw new SchemaError(`${path} must be an array`);
  return v.map((x, i) => item(x, `${path}[${i}]`));
}
function version(o: Record<string, unknown>): number {
  const v = int(o['v'], 'v');
  if (v !== EVENT_VERSION) throw new SchemaError(`v must be ${EVENT_VERSION}`);
  return v;
}

const connectionRecord: Check<ConnectionRecord> = (v, path) => {
  const o = obj(v, path);
  return {
    conn: id(o['conn'], `${path}.conn`),
    user: id(o['user'], `${path}.user`),
    session: id(o['session'], `${path}.session`),
    client: id(o['client'], `${path}.client`),
    edge: id(o['edge'], `${path}.edge`),
    connectedAt: num(o['connectedAt'], `${path}.connectedAt`),
    lastActivity: num(o['lastActivity'], `${path}.lastActivity`),
  };
};

/** Result of validating an event: the typed value, or the first problem found. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const decoder = new TextDecoder();

function parseWith<T>(data: Uint8Array | string, build: (o: Record<string, unknown>) => T): Parsed<T> {
  try {
    const text = typeof data === 'string' ? data : decoder.decode(data);
    return { ok: true, value: build(obj(JSON.parse(text), 'event')) };
  } catch (err) {
    return { ok: false, error: err instanceof SchemaError ? err.message : `not JSON: ${(err as Error).message}` };
  }
}

export const parseConnectEvent = (data: Uint8Array | string): Parsed<ConnectEvent> =>
  parseWith(data, (o) => ({
    v: version(o),
    edge: id(o['edge'], 'edge'),
    at: num(o['at'], 'at'),
    connection: connectionRecord(o['connection'], 'connection'),
    ...(o['resumed'] === true ? { resumed: true } : {}),
  }));

export const parseDisconnectEvent = (data: Uint8Array | string): Parsed<DisconnectEvent> =>
  parseWith(data, (o) => ({
    v: version(o),
    edge: id(o['edge'], 'edge'),
    at: num(o['at'], 'at'),
    conn: id(o['conn'], 'conn'),
    user: id(o['user'], 'user'),
    session: id(o['session'], 'session'),
    client: id(o['client'], 'client'),
    code: int(o['code'], 'code'),
    reason: str(o['reason'], 'reason'),
  }));

export const parseHeartbeatEvent = (data: Uint8Array | string): Parsed<HeartbeatEvent> =>
  parseWith(data, (o) => ({
    v: version(o),
    edge: id(o['edge'], 'edge'),
    at: num(o['at'], 'at'),
    intervalMs: int(o['intervalMs'], 'intervalMs'),
    connections: int(o['connections'], 'connections'),
    activity: arr(o['activity'], 'activity', (v, path) => {
      const pair = arr(v, path, (x) => x);
      if (pair.length !== 2) throw new SchemaError(`${path} must be [conn, lastActivity]`);
      return [id(pair[0], `${path}[0]`), num(pair[1], `${path}[1]`)] as const;
    }),
  }));

export const parseSnapshotEvent = (data: Uint8Array | string): Parsed<SnapshotEvent> =>
  parseWith(data, (o) => {
    const part = int(o['part'], 'part');
    const parts = int(o['parts'], 'parts');
    if (parts < 1 || part >= parts) throw new SchemaError('part must be < parts and parts >= 1');
    return {
      v: version(o),
      edge: id(o['edge'], 'edge'),
      at: num(o['at'], 'at'),
      snapshotId: id(o['snapshotId'], 'snapshotId'),
      part,
      parts,
      connections: arr(o['connections'], 'connections', connectionRecord),
    };
  });

export const parsePresenceEvent = (data: Uint8Array | string): Parsed<PresenceEvent> =>
  parseWith(data, (o) => {
    const status = o['status'];
    if (status !== 'online' && status !== 'offline') throw new SchemaError('status must be "online" or "offline"');
    return {
      v: version(o),
      user: id(o['user'], 'user'),
      status,
      at: num(o['at'], 'at'),
      connections: int(o['connections'], 'connections'),
    };
  });

export const parseConnectionsReply = (data: Uint8Array | string): Parsed<ConnectionsReply> =>
  parseWith(data, (o) => ({ connections: arr(o['connections'], 'connections', connectionRecord) }));

export const parseStatsReply = (data: Uint8Array | string): Parsed<StatsReply> =>
  parseWith(data, (o) => ({
    edges: arr(o['edges'], 'edges', (v, path) => {
      const e = obj(v, path);
      return {
        edge: id(e['edge'], `${path}.edge`),
        connections: int(e['connections'], `${path}.connections`),
        lastHeartbeat: num(e['lastHeartbeat'], `${path}.lastHeartbeat`),
      };
    }),
    users: int(o['users'], 'users'),
    sessions: int(o['sessions'], 'sessions'),
    connections: int(o['connections'], 'connections'),
  }));

const registryErrorCodes = new Set<string>(Object.values(RegistryErrorCode));

/** A registry error reply; `ok: false` for anything else (a normal reply included). */
export const parseRegistryErrorReply = (data: Uint8Array | string): Parsed<RegistryErrorReply> =>
  parseWith(data, (o) => {
    const error = str(o['error'], 'error');
    if (!registryErrorCodes.has(error)) throw new SchemaError(`error must be one of ${[...registryErrorCodes].join(', ')}`);
    return { error: error as RegistryErrorCodeValue, message: str(o['message'], 'message') };
  });
