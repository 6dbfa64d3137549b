import { encodeId, tryDecodeId } from './ids.js';
import { isValidTopic } from './topic.js';

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
  /** Durable push to a user (stored in the push stream, republished onto pushUser with its position). */
  durableUser(userId: string): string;
  /** Durable push to a session (stored, republished onto pushSession). */
  durableSession(sessionId: string): string;
  /** What the push stream stores: `<prefix>.durable.*.*`. */
  durableAll(): string;
  /** Where the push stream republishes: `<prefix>.push.{{wildcard(1)}}.{{wildcard(2)}}` (a JetStream subject transform). */
  durableRepublish(): string;
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
  /** One edge's delivery canary: it publishes there and subscribes like a user, to prove its delivery path. */
  edgeCanary(edgeId: string): string;
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
  /**
   * A blacklist entry the admin API just stored, sent to every edge directly (faster than their KV
   * watch, which can stall on a dead NATS node); the body names the ack subject. See docs/reliability.md.
   */
  blacklistSync(): string;
  /** Where edges acknowledge one blacklistSync message (`nonce` chosen by the admin API). */
  blacklistAck(nonce: string): string;
  /** What a subject of this scheme addresses (see {@link parseSubject}). */
  parse(subject: string): SubjectTarget | undefined;
  /** The text before the id token of a subject kind that ends in one (see {@link subjectHead}). */
  head(kind: IdSubjectKind): string;
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
    durableUser: (userId) => `${p}.durable.user.${encodeId(userId)}`,
    durableSession: (sessionId) => `${p}.durable.session.${encodeId(sessionId)}`,
    durableAll: () => `${p}.durable.*.*`,
    durableRepublish: () => `${p}.push.{{wildcard(1)}}.{{wildcard(2)}}`,
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
    edgeCanary: (edgeId) => `${p}.edge.${encodeId(edgeId)}.canary`,
    presence: (userId) => `${p}.presence.${encodeId(userId)}`,
    presenceAll: () => `${p}.presence.*`,
    registryUser: (userId) => `${p}.registry.user.${encodeId(userId)}`,
    registrySession: (sessionId) => `${p}.registry.session.${encodeId(sessionId)}`,
    registryStats: () => `${p}.registry.stats`,
    registryAll: () => `${p}.registry.>`,
    blacklistSync: () => `${p}.blacklist.sync`,
    blacklistAck: (nonce) => `${p}.blacklist.ack.${encodeId(nonce)}`,
    parse: createSubjectParser(prefix),
    head: (kind) => subjectHead(prefix, kind),
  };
}

/**
 * Every subject the system uses, parsed back. Kinds ending in an id carry the id DECODED (a
 * token that is not an encoded id makes the subject unparseable: undefined).
 * There is no per-client subject: narrowing to one client travels in the Mesh-Client header.
 */
export type SubjectTarget =
  | { readonly kind: 'push-user'; readonly user: string }
  | { readonly kind: 'push-session'; readonly session: string }
  | { readonly kind: 'push-all' }
  | { readonly kind: 'durable-user'; readonly user: string }
  | { readonly kind: 'durable-session'; readonly session: string }
  | { readonly kind: 'kill-user'; readonly user: string }
  | { readonly kind: 'kill-session'; readonly session: string }
  | { readonly kind: 'kill-conn'; readonly conn: string }
  | { readonly kind: 'inbound'; readonly topic: string }
  | { readonly kind: 'event-connect' }
  | { readonly kind: 'event-disconnect' }
  | { readonly kind: 'event-heartbeat' }
  | { readonly kind: 'event-snapshot' }
  | { readonly kind: 'snapshot-request-all' }
  | { readonly kind: 'snapshot-request-edge'; readonly edge: string }
  | { readonly kind: 'presence'; readonly user: string }
  | { readonly kind: 'registry-user'; readonly user: string }
  | { readonly kind: 'registry-session'; readonly session: string }
  | { readonly kind: 'registry-stats' };

export type SubjectKind = SubjectTarget['kind'];

/** Subject kinds of the form `<head><id token>` (the snapshot request to one edge has a tail, not a head). */
export type IdSubjectKind = 'push-user' | 'push-session' | 'durable-user' | 'durable-session' | 'kill-user' | 'kill-session' | 'kill-conn' | 'presence' | 'registry-user' | 'registry-session';

const HEADS: Readonly<Record<IdSubjectKind, string>> = {
  'push-user': 'push.user.',
  'push-session': 'push.session.',
  'durable-user': 'durable.user.',
  'durable-session': 'durable.session.',
  'kill-user': 'kill.user.',
  'kill-session': 'kill.session.',
  'kill-conn': 'kill.conn.',
  presence: 'presence.',
  'registry-user': 'registry.user.',
  'registry-session': 'registry.session.',
};

/**
 * `<prefix>.push.user.` and the like: what precedes the id token of a subject kind. For code that
 * matches many subjects of one kind by prefix (an edge routing pushes); `parseSubject` does the rest.
 */
export function subjectHead(prefix: string, kind: IdSubjectKind): string {
  return `${prefix}.${HEADS[kind]}`;
}

const FIXED: ReadonlyArray<readonly [string, SubjectTarget]> = [
  ['push.all', Object.freeze({ kind: 'push-all' } as const)],
  ['events.connect', Object.freeze({ kind: 'event-connect' } as const)],
  ['events.disconnect', Object.freeze({ kind: 'event-disconnect' } as const)],
  ['events.heartbeat', Object.freeze({ kind: 'event-heartbeat' } as const)],
  ['events.snapshot', Object.freeze({ kind: 'event-snapshot' } as const)],
  ['edges.snapshot', Object.freeze({ kind: 'snapshot-request-all' } as const)],
  ['registry.stats', Object.freeze({ kind: 'registry-stats' } as const)],
];

/** A parser for one prefix, with its lookups built once (what `Subjects.parse` is). */
export function createSubjectParser(prefix: string): (subject: string) => SubjectTarget | undefined {
  const head = `${prefix}.`;
  const fixed = new Map(FIXED.map(([tail, target]) => [head + tail, target]));
  const byId = (Object.entries(HEADS) as [IdSubjectKind, string][]).map(([kind, h]) => [kind, head + h] as const);
  return (subject) => {
    if (!subject.startsWith(head)) return undefined;
    const known = fixed.get(subject);
    if (known !== undefined) return known;
    for (const [kind, h] of byId) {
      if (!subject.startsWith(h)) continue;
      const id = tryDecodeId(subject.slice(h.length));
      return id === undefined ? undefined : idTarget(kind, id);
    }
    const rest = subject.slice(head.length);
    if (rest.startsWith('in.')) {
      const topic = rest.slice(3);
      return isValidTopic(topic) ? { kind: 'inbound', topic } : undefined;
    }
    if (rest.startsWith('edge.') && rest.endsWith('.snapshot')) {
      const edge = tryDecodeId(rest.slice(5, -'.snapshot'.length));
      return edge === undefined ? undefined : { kind: 'snapshot-request-edge', edge };
    }
    return undefined;
  };
}

/** What `subject` addresses under `prefix`, or undefined for anything the scheme cannot produce. */
export function parseSubject(prefix: string, subject: string): SubjectTarget | undefined {
  return createSubjectParser(prefix)(subject);
}

function idTarget(kind: IdSubjectKind, id: string): SubjectTarget {
  switch (kind) {
    case 'push-user':
    case 'durable-user':
    case 'kill-user':
    case 'presence':
    case 'registry-user':
      return { kind, user: id };
    case 'push-session':
    case 'durable-session':
    case 'kill-session':
    case 'registry-session':
      return { kind, session: id };
    case 'kill-conn':
      return { kind, conn: id };
  }
}
