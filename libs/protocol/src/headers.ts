/**
 * NATS header names. Every header that carries an id carries it ENCODED, exactly as in subjects
 * (base64url of UTF-8, see ids.ts): header values are trimmed and restricted by some clients, and
 * one rule everywhere is easier to get right than two.
 */
export const Header = {
  /** On push/kill: narrow to connections of this client id (a browser tab). On inbound: the sender's client id. */
  Client: 'Mesh-Client',
  /** On push/kill to a user: narrow to this session. On inbound: the sender's session id. */
  Session: 'Mesh-Session',
  /** On inbound: the sender's user id (derived from the verified token, never from the client). */
  User: 'Mesh-User',
  /** On inbound: the sender's connection id. */
  Connection: 'Mesh-Conn',
  /** On inbound: the edge that received the message. */
  Edge: 'Mesh-Edge',
  /** On inbound: the sender's roles, a JSON array of strings (plain, not encoded). */
  Roles: 'Mesh-Roles',
  /** On kill: a short human-readable reason (plain ASCII), passed to the client as the close reason. */
  Reason: 'Mesh-Reason',
  /** On kill: the close code, `4005` (KILLED, the default) or `4013` (TOO_MANY_CONNECTIONS); any other value means 4005. */
  CloseCode: 'Mesh-Close-Code',
} as const;

/** Identity headers an edge strips from nothing and sets itself: a client can never supply them. */
export const IDENTITY_HEADERS = [Header.User, Header.Session, Header.Client, Header.Connection, Header.Edge, Header.Roles] as const;

/**
 * Headers JetStream sets (on a stream's republished messages and direct gets) and the one
 * publishers set for idempotence. The edge reads them on durable pushes only.
 */
export const JsHeader = {
  /** The stream that stored the message: marks a republished durable push. */
  Stream: 'Nats-Stream',
  /** The message's sequence in the stream: the durable push's position. */
  Sequence: 'Nats-Sequence',
  /** On a republish: the previous sequence stored on the same subject (0 for the first). */
  LastSequence: 'Nats-Last-Sequence',
  /** The subject the message was stored under. */
  Subject: 'Nats-Subject',
  /** Set by publishers: stored once within the stream's duplicate window. */
  MsgId: 'Nats-Msg-Id',
} as const;
