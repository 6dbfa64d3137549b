import { randomBytes } from 'node:crypto';
import type { VerifiedToken } from '@session-mesh/auth';
import { idProblem, type ResumePoint } from '@session-mesh/protocol';

/** Client ids name a browser tab; they are chosen by clients, so they get a tighter limit than ids in tokens. */
export const MAX_CLIENT_ID_BYTES = 128;

/** Why a client-chosen id is unacceptable, or undefined. */
export function clientIdProblem(id: string): string | undefined {
  const problem = idProblem(id);
  if (problem !== undefined) return problem;
  if (Buffer.byteLength(id, 'utf8') > MAX_CLIENT_ID_BYTES) return `must be at most ${MAX_CLIENT_ID_BYTES} UTF-8 bytes`;
  return undefined;
}

/** A fresh client id for clients that send none: 96 random bits, subject-safe. */
export function randomClientId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * Connection ids are `<edge id>-<boot>-<counter in base 36>`: unique across the cluster as long as
 * edge ids are, and never repeated by an edge restarted with the same id (a pod restarting in
 * place), thanks to `boot`, random per process start. Cheap: the edge keeps only the counter per
 * connection and formats on demand.
 */
export class ConnectionIds {
  private readonly prefix: string;
  private next = 1;

  constructor(
    readonly edgeId: string,
    readonly boot: string = randomBytes(4).readUInt32BE(0).toString(36),
  ) {
    this.prefix = `${edgeId}-${boot}-`;
  }

  allocate(): number {
    return this.next++;
  }

  format(seq: number): string {
    return this.prefix + seq.toString(36);
  }

  /** The counter of a connection id minted by this edge, or undefined for anything else. */
  parse(id: string): number | undefined {
    if (!id.startsWith(this.prefix)) return undefined;
    const rest = id.slice(this.prefix.length);
    if (!/^[1-9a-z][0-9a-z]*$/.test(rest)) return undefined;
    const seq = parseInt(rest, 36);
    return Number.isSafeInteger(seq) && seq.toString(36) === rest ? seq : undefined;
  }
}

/** One shared, immutable roles list and its Mesh-Roles header form. */
export interface RoleSet {
  readonly roles: readonly string[];
  /** JSON array: the Mesh-Roles header value and the interning key. */
  readonly json: string;
}

/**
 * Thousands of connections share a handful of role combinations: keep one frozen array per
 * combination. The table is bounded (roles come from signed tokens, but an issuer minting unique
 * role sets per user should not grow memory without bound); past the cap, sets are not shared.
 */
export class RoleTable {
  private readonly sets = new Map<string, RoleSet>();
  static readonly EMPTY: RoleSet = Object.freeze({ roles: Object.freeze([]) as readonly string[], json: '[]' });

  constructor(private readonly maxEntries = 10_000) {}

  intern(roles: readonly string[]): RoleSet {
    if (roles.length === 0) return RoleTable.EMPTY;
    const json = JSON.stringify(roles);
    const existing = this.sets.get(json);
    if (existing !== undefined) return existing;
    const set: RoleSet = Object.freeze({ roles: Object.freeze([...roles]), json });
    if (this.sets.size < this.maxEntries) this.sets.set(json, set);
    return set;
  }

  get size(): number {
    return this.sets.size;
  }
}

/** Who a connection is, as decided at upgrade. Times are whole seconds (small integers in V8). */
export interface Identity {
  readonly user: string;
  readonly session: string;
  readonly client: string;
  readonly roles: RoleSet;
  /** Token `iat` in seconds, or -1 when absent (anonymous connections too). */
  readonly iatS: number;
  /** Token `exp` in seconds, or 0 when the token never expires (anonymous connections too). */
  readonly expS: number;
  /** Durable pushes: the position and epoch the client resumes from (`?position=&epoch=`). */
  readonly resume?: ResumePoint | undefined;
}

export function identityFromToken(token: VerifiedToken, client: string, roles: RoleTable): Identity {
  return {
    user: token.userId,
    session: token.sessionId,
    client,
    roles: roles.intern(token.roles),
    iatS: iatS(token),
    expS: expS(token),
  };
}

/** The token's ms times as the whole seconds a connection keeps (small integers in V8), and back. */
export function iatS(token: VerifiedToken): number {
  return token.issuedAtMs === null ? -1 : Math.floor(token.issuedAtMs / 1000);
}
export function expS(token: VerifiedToken): number {
  return token.expiresAtMs === null ? 0 : Math.ceil(token.expiresAtMs / 1000);
}

/** Anonymous mode: each tab is a transient user of its own. */
export function anonymousIdentity(client: string): Identity {
  return { user: client, session: client, client, roles: RoleTable.EMPTY, iatS: -1, expS: 0 };
}

/** Back to the ms values the protocol speaks. */
export function iatMs(iatS: number): number | undefined {
  return iatS < 0 ? undefined : iatS * 1000;
}
export function expMs(expS: number): number | null {
  return expS === 0 ? null : expS * 1000;
}
