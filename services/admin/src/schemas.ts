import { Type, type TSchema } from 'typebox';
import { MAX_ID_BYTES } from '@session-mesh/protocol';

/**
 * Request and response schemas (TypeBox: JSON Schema that is also a TypeScript type). Ids are
 * checked twice: the schema bounds the length, and `idProblem` (protocol) decides the rest so the
 * HTTP API accepts exactly the ids that fit into subjects.
 */
const idString = (description: string) => Type.String({ minLength: 1, maxLength: MAX_ID_BYTES, pattern: NO_CONTROL_CHARACTERS, description });

/**
 * What `idProblem` refuses besides length: C0 controls, DEL and C1 controls. Written with JSON
 * escapes so the published document carries the same rule as the server (which also refuses
 * lone surrogates and ids over 512 UTF-8 bytes: neither fits a JSON Schema keyword).
 */
export const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$';

export const UserId = idString('User id (any string of 1..512 UTF-8 bytes without control characters or lone surrogates; URL-encode it in paths)');
export const SessionId = idString('Session id (URL-encode it in paths)');
export const ClientId = idString('Client id, e.g. one browser tab (URL-encode it in paths)');
export const ConnectionId = idString('Connection id, as reported by the welcome frame and the registry');

export const ErrorBody = Type.Object(
  { error: Type.String({ description: 'machine-readable code' }), message: Type.String({ description: 'what went wrong' }) },
  { $id: 'Error', description: 'Every error answer' },
);

/** Error answers for a route, by status code. */
export function errors(...codes: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const code of codes) out[code] = Type.Ref('Error', { description: ERROR_DESCRIPTIONS[code] ?? 'Error' });
  return out;
}

const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid request (the message names the field)',
  401: 'Missing or invalid credentials',
  403: 'Valid token without the admin role',
  404: 'No such entry',
  413: 'Body too large (push: MESH_ADMIN_MAX_PUSH_BYTES; JSON bodies: 1 MiB)',
  415: 'Unsupported content type (JSON bodies need application/json)',
  431: 'Request header fields too large (32 KiB in all)',
  502: 'The registry answered something unexpected',
  503: 'Bus disconnected, or no registry replica answered in time',
};

/** 503 of the push routes: the bus, or for durable pushes the push stream. */
export const PushUnavailable = Type.Ref('Error', {
  description:
    'bus_unavailable: the bus is disconnected. Durable pushes also: durable_stream_missing (no stream stores the subject: durable pushes are off on the edges, MESH_DURABLE=false, or no edge created the stream yet) and durable_unavailable (the stream did not acknowledge in time; retry with the same Idempotency-Key, Retry-After says when)',
});

export const Accepted = Type.Object(
  {
    status: Type.Literal('accepted'),
    subject: Type.String({ description: 'NATS subject the message was published on' }),
  },
  { description: 'Published' },
);

export const Stored = Type.Object(
  {
    status: Type.Literal('stored'),
    subject: Type.String({ description: 'NATS subject the push was stored under (<prefix>.durable.<kind>.<token>)' }),
    stream: Type.String({ description: 'The stream that stored it (MESH_DURABLE_STREAM, default MESH_PUSH)' }),
    position: Type.Integer({ minimum: 1, description: "The push's position (its stream sequence): clients get it in the DURABLE_PUSH frame" }),
    duplicate: Type.Boolean({ description: 'true: a push with this Idempotency-Key was stored within the duplicate window; nothing new was stored, position is the first one' }),
  },
  { description: 'Stored: delivered to connected clients, replayed to clients that resume within the retention' },
);

/** Close reasons travel in the Mesh-Reason header and the WebSocket close frame (at most 123 bytes). */
export const KillBody = Type.Object(
  {
    reason: Type.Optional(Type.String({ maxLength: 123, pattern: '^[\\x20-\\x7E]*$', description: 'Printable ASCII, passed to the client as the close reason' })),
  },
  { additionalProperties: false },
);

export const UserKillBody = Type.Object(
  {
    reason: KillBody.properties.reason,
    sessionId: Type.Optional(SessionId),
  },
  { additionalProperties: false },
);

export const UserParams = Type.Object({ userId: UserId });
export const SessionParams = Type.Object({ sessionId: SessionId });
export const ClientParams = Type.Object({ userId: UserId, clientId: ClientId });
export const ConnectionParams = Type.Object({ connectionId: ConnectionId });

/** Query strings are not coerced (TypeBox validator): a flag is the text `true` or `false`. */
const Flag = (description: string) => Type.Union([Type.Literal('true'), Type.Literal('false')], { description });
const DURABLE_FLAG =
  'true: store the push in the push stream first (JetStream), answer 201 with its position; clients that were away get it when they resume. Default false (at-most-once, 202)';

export const PushQuery = Type.Object({ durable: Type.Optional(Flag(DURABLE_FLAG)) }, { additionalProperties: false });
export const UserPushQuery = Type.Object(
  { sessionId: Type.Optional(idString('Only connections of this session of the user')), durable: PushQuery.properties.durable },
  { additionalProperties: false },
);
export const EmptyQuery = Type.Object({}, { additionalProperties: false });

/**
 * The longest Idempotency-Key: it travels as the Nats-Msg-Id header, printable ASCII (HTTP trims
 * surrounding spaces, NATS header values cannot carry control characters).
 */
export const MAX_IDEMPOTENCY_KEY = 256;
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]([\\x20-\\x7E]*[\\x21-\\x7E])?$';
export const PushHeaders = Type.Object({
  'Idempotency-Key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_IDEMPOTENCY_KEY,
      pattern: IDEMPOTENCY_KEY_PATTERN,
      description:
        'Durable pushes (durable=true): a retried request with the same key within 2 minutes is stored once (the answer says duplicate: true and gives the first position). Printable ASCII, e.g. a UUID. Ignored by at-most-once pushes (nothing is stored to compare with)',
    }),
  ),
});

/** Push payloads are raw bytes of any content type; documented, not validated (see push routes). */
export const PushBody = Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'Raw bytes, published unchanged (may be empty)' });

const YEAR_SECONDS = 366 * 24 * 3600;
/** 9999-12-31T23:59:59.999Z: the last instant a four-digit ISO 8601 year can name. */
export const MAX_TIME_MS = 253_402_300_799_999;
/**
 * ISO 8601 date and time with a zone (Z or an offset), four-digit years from 1970; a day past the
 * end of its month rolls over into the next month, as in JavaScript's Date.
 */
export const ISO_TIME_PATTERN =
  '^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';
/** The longest TTL, in ms: entries expire at most this long after they were written. */
export const MAX_TTL_MS = YEAR_SECONDS * 1000;
export const TtlSeconds = Type.Integer({ minimum: 1, maximum: YEAR_SECONDS, description: 'How long the entry lasts (1 s .. 1 year)' });
const Reason = Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept in the entry, for operators)' });

export const BlacklistSessionBody = Type.Object(
  { sessionId: SessionId, ttlSeconds: TtlSeconds, reason: Reason },
  { additionalProperties: false },
);
export const BlacklistUserBody = Type.Object(
  {
    userId: UserId,
    ttlSeconds: TtlSeconds,
    reason: Reason,
    issuedBefore: Type.Optional(
      Type.Union(
        [
          Type.String({ pattern: ISO_TIME_PATTERN, description: 'ISO 8601 time with a zone, e.g. 2026-05-01T00:00:00Z' }),
          Type.Integer({ minimum: 0, maximum: MAX_TIME_MS, description: 'ms since the epoch' }),
        ],
        {
          description: 'Refuse only tokens issued (iat) before this time ("log out everywhere"); absent: refuse the user entirely',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const BlacklistEntrySchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('session'), Type.Literal('user')]),
    id: Type.String(),
    reason: Type.String(),
    createdAt: Type.Integer({ description: 'ms since the epoch' }),
    expiresAt: Type.Integer({ description: 'ms since the epoch' }),
    issuedBefore: Type.Optional(Type.Integer({ description: 'ms since the epoch' })),
  },
  { $id: 'BlacklistEntry' },
);
export const BlacklistList = Type.Object({ entries: Type.Array(Type.Ref('BlacklistEntry')) }, { description: 'Active entries' });
export const BlacklistListQuery = Type.Object(
  { kind: Type.Optional(Type.Union([Type.Literal('session'), Type.Literal('user')])) },
  { additionalProperties: false },
);

export const ConnectionRecordSchema = Type.Object(
  {
    conn: Type.String(),
    user: Type.String(),
    session: Type.String(),
    client: Type.String(),
    edge: Type.String(),
    connectedAt: Type.Number({ description: 'ms since the epoch' }),
    lastActivity: Type.Number({ description: 'ms since the epoch' }),
  },
  { $id: 'ConnectionRecord' },
);
export const ConnectionsReplySchema = Type.Object({ connections: Type.Array(Type.Ref('ConnectionRecord')) }, { description: 'Open connections' });
export const StatsReplySchema = Type.Object(
  {
    edges: Type.Array(
      Type.Object({
        edge: Type.String(),
        connections: Type.Integer(),
        lastHeartbeat: Type.Number({ description: "ms since the epoch (the registry's clock); 0 before the first heartbeat" }),
      }),
    ),
    users: Type.Integer(),
    sessions: Type.Integer(),
    connections: Type.Integer(),
  },
  { description: 'Cluster totals' },
);

export const HealthBody = Type.Object(
  {
    status: Type.String(),
    failing: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'check name -> why it fails' })),
  },
  { description: 'Probe answer' },
);

/** Shared schemas, registered once with addSchema so responses can $ref them. */
export const sharedSchemas: readonly TSchema[] = [ErrorBody, BlacklistEntrySchema, ConnectionRecordSchema];
