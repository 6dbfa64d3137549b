import { encodeId, isValidTopic } from './ids.js';

/**
 * The NATS subject scheme, one function per subject, under a configurable prefix (default `mesh`).
 * docs/subjects.md is the reference for backend developers; keep the two in step.
 *
 * Design: every subject an edge subscribes to per user or session is EXACT (no trailing wildcard):
 * wildcard subscribe/unsubscribe churn costs the NATS server about 5x more. What a message means
 * beyond its target (narrowing to one client, a reason) travels in headers (see headers.ts).
 * Kills are rare, so every edge listens to all of them with ONE long-lived wildcard subscription
 * and filters locally: no per-connection subscription is spent on them.
 */
export const DEFAULT_SUBJECT_PREFIX = 'mesh';

const PREFIX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function isValidSubjectPrefix(prefix: string): boolean {
  return PREFIX_RE.test(prefix) && prefix.length <= 64;
}

export interface Subjects {
  readonly prefix: string;
  /** Push to every connection of a user, on every edge. Headers Mesh-Session / Mesh-Client narrow it. */
  pushUser(userId: string): string;
  /** Push to every connection of a session (by session id alone). Header Mesh-Client narrows it. */
  pushSession(sessionId: string): string;
  /** Push to every connection on every edge. */
  pushBroadcast(): string;
  /** Close every connection of a user with KILLED. Headers Mesh-Session / Mesh-Client narrow it. */
  killUser(userId: string): string;
  /** Close every connection of a session with KILLED. Header Mesh-Client narrows it. */
  killSession(sessionId: string): string;
  /** Close one connection, by the connection id the welcome frame and the registry report. */
  killConnection(connectionId: string): string;
  /** What one edge subscribes to for every kill: `<prefix>.kill.>`. */
  killAll(): string;
  /** Client messages and requests on a topic; identity is in Mesh-* headers set by the edge. */
  inbound(topic: string): string;
  /** Every inbound topic (for a backend queue group): `<prefix>.in.>`. */
  inboundAll(): string;
  /** Edge lifecycle events, consumed by the registry (and by any backend that wants them). */
  eventConnect(): string;
  eventDisconnect(): string;
  eventHeartbeat(): string;
  eventSnapshot(): string;
  /** Asks every edge to publish its snapshot on eventSnapshot(). */
  snapshotRequestAll(): string;
  /** Asks one edge to publish its snapshot. */
  snapshotRequestEdge(edgeId: string): string;
  /** A user came online or went offline, cluster-wide; published by the registry. */
  presence(userId: string): string;
  /** Every presence change: `<prefix>.presence.*`. */
  presenceAll(): string;
  /** Registry queries (request/reply, answered by a queue group of registry replicas). */
  registryUser(userId: string): string;
  registrySession(sessionId: string): string;
  registryStats(): string;
  /** Everything the registry answers: `<prefix>.registry.>`. */
  registryAll(): string;
}

export function createSubjects(prefix: string = DEFAULT_SUBJECT_PREFIX): Subjects {
  if (!isValidSubjectPrefix(prefix)) {
    throw new Error(`invalid subject prefix ${JSON.stringify(prefix)}: dot-separated tokens of [A-Za-z0-9_-]`);
  }
  const p = prefix;
  return {
    prefix,
    pushUser: (userId) => `${p}.push.user.${encodeId(userId)}`,
    pushSession: (sessionId) => `${p}.push.session.${encodeId(sessionId)}`,
    pushBroadcast: () => `${p}.push.all`,
    killUser: (userId) => `${p}.kill.user.${encodeId(userId)}`,
    killSession: (sessionId) => `${p}.kill.session.${encodeId(sessionId)}`,
    killConnection: (connectionId) => `${p}.kill.conn.${encodeId(connectionId)}`,
    killAll: () => `${p}.kill.>`,
    inbound: (topic) => {
      if (!isValidTopic(topic)) throw new Error(`invalid topic ${JSON.stringify(topic)}`);
      return `${p}.in.${topic}`;
    },
    inboundAll: () => `${p}.in.>`,
    eventConnect: () => `${p}.events.connect`,
    eventDisconnect: () => `${p}.events.disconnect`,
    eventHeartbeat: () => `${p}.events.heartbeat`,
    eventSnapshot: () => `${p}.events.snapshot`,
    snapshotRequestAll: () => `${p}.edges.snapshot`,
    snapshotRequestEdge: (edgeId) => `${p}.edge.${encodeId(edgeId)}.snapshot`,
    presence: (userId) => `${p}.presence.${encodeId(userId)}`,
    presenceAll: () => `${p}.presence.*`,
    registryUser: (userId) => `${p}.registry.user.${encodeId(userId)}`,
    registrySession: (sessionId) => `${p}.registry.session.${encodeId(sessionId)}`,
    registryStats: () => `${p}.registry.stats`,
    registryAll: () => `${p}.registry.>`,
  };
}

/** What a kill subject addresses, parsed back on the edge. */
export type KillTarget =
  | { readonly kind: 'user'; readonly token: string }
  | { readonly kind: 'session'; readonly token: string }
  | { readonly kind: 'conn'; readonly token: string };

/** Parses `<prefix>.kill.<kind>.<token>`; undefined for anything else. Tokens stay encoded. */
export function parseKillSubject(prefix: string, subject: string): KillTarget | undefined {
  const head = `${prefix}.kill.`;
  if (!subject.startsWith(head)) return undefined;
  const rest = subject.slice(head.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || rest.indexOf('.', dot + 1) !== -1) return undefined;
  const kind = rest.slice(0, dot);
  const token = rest.slice(dot + 1);
  if (token.length === 0) return undefined;
  if (kind === 'user' || kind === 'session' || kind === 'conn') return { kind, token };
  return undefined;
}
