import { encodeId, idProblem } from './ids.js';

/**
 * Blacklist entries live in a key-value bucket (NATS JetStream KV, or the embedded store), written
 * by the admin API and watched by every edge. Expiry is carried IN the value (`expiresAt`) and
 * enforced by readers, so it works on every NATS server version (per-key TTL needs 2.11+); the
 * admin API also deletes expired keys.
 */
export const BLACKLIST_BUCKET = 'mesh_blacklist';
/** Revisions kept per key: the latest (the admin's reads, its watch and its janitor's re-check need no more). */
export const BLACKLIST_HISTORY = 1;

export type BlacklistKind = 'session' | 'user';

export interface BlacklistEntry {
  readonly kind: BlacklistKind;
  /** The raw session or user id. */
  readonly id: string;
  readonly reason: string;
  /** ms since the epoch */
  readonly createdAt: number;
  /** ms since the epoch; the entry is void afterwards */
  readonly expiresAt: number;
  /**
   * Users only: when set, only tokens issued (`iat`) before this time (ms) are refused ("log out
   * everywhere"); tokens issued later connect normally. When absent the whole user is refused.
   */
  readonly issuedBefore?: number;
}

/** KV keys: `session.<token>` / `user.<token>` (tokens as in subjects; KV keys allow [-_=./A-Za-z0-9]). */
export function blacklistKey(kind: BlacklistKind, id: string): string {
  return `${kind}.${encodeId(id)}`;
}

export function isBlacklistActive(entry: BlacklistEntry, now: number): boolean {
  return entry.expiresAt > now;
}

/** Whether a token with these claims is refused by this entry (already known to match its user/session). */
export function blacklistRefuses(entry: BlacklistEntry, now: number, issuedAtMs: number | undefined): boolean {
  if (!isBlacklistActive(entry, now)) return false;
  if (entry.kind === 'user' && entry.issuedBefore !== undefined) {
    // Tokens without iat cannot prove they are newer: refuse them.
    return issuedAtMs === undefined || issuedAtMs < entry.issuedBefore;
  }
  return true;
}

export function parseBlacklistEntry(data: Uint8Array | string): BlacklistEntry | undefined {
  try {
    const o = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as Record<string, unknown>;
    if (o['kind'] !== 'session' && o['kind'] !== 'user') return undefined;
    if (idProblem(o['id']) !== undefined || typeof o['id'] !== 'string' || typeof o['reason'] !== 'string') return undefined;
    if (typeof o['createdAt'] !== 'number' || typeof o['expiresAt'] !== 'number') return undefined;
    if (o['issuedBefore'] !== undefined && typeof o['issuedBefore'] !== 'number') return undefined;
    const entry: BlacklistEntry = {
      kind: o['kind'],
      id: o['id'],
      reason: o['reason'],
      createdAt: o['createdAt'],
      expiresAt: o['expiresAt'],
      ...(typeof o['issuedBefore'] === 'number' ? { issuedBefore: o['issuedBefore'] } : {}),
    };
    return entry;
  } catch {
    return undefined;
  }
}

/**
 * `<prefix>.blacklist.sync`: the admin API sends each entry it stored to every edge directly, so
 * enforcement does not wait for the edges' KV watches; every edge applies it and answers on `ack`
 * with a BlacklistAck. `revision` is the entry's KV revision (a later watch update wins).
 */
export interface BlacklistSync {
  readonly entry: BlacklistEntry;
  readonly revision: number;
  readonly ack: string;
}

export interface BlacklistAck {
  readonly edge: string;
  readonly revision: number;
  /** Live connections the entry closed on this edge. */
  readonly closed: number;
}

export function parseBlacklistSync(data: Uint8Array): BlacklistSync | undefined {
  try {
    const o = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    const entry = parseBlacklistEntry(JSON.stringify(o['entry']));
    if (entry === undefined || !Number.isSafeInteger(o['revision']) || typeof o['ack'] !== 'string') return undefined;
    return { entry, revision: o['revision'] as number, ack: o['ack'] };
  } catch {
    return undefined;
  }
}

export function parseBlacklistAck(data: Uint8Array): BlacklistAck | undefined {
  try {
    const o = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    if (typeof o['edge'] !== 'string' || !Number.isSafeInteger(o['revision']) || !Number.isSafeInteger(o['closed'])) return undefined;
    return { edge: o['edge'], revision: o['revision'] as number, closed: o['closed'] as number };
  } catch {
    return undefined;
  }
}
