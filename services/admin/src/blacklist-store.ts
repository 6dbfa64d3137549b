import type { KvStore } from '@session-mesh/bus';
import { blacklistKey, isBlacklistActive, parseBlacklistEntry, type BlacklistEntry, type BlacklistKind } from '@session-mesh/protocol';

/**
 * The blacklist bucket as the admin API sees it. Expiry lives in the value (`expiresAt`): an
 * expired entry reads as absent everywhere, and the janitor deletes its key later.
 */
export class BlacklistStore {
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly kv: KvStore,
    private readonly now: () => number,
  ) {}

  /** Returns the entry's KV revision (edges acknowledge it, see blacklist-enforcement.ts). */
  async put(entry: BlacklistEntry): Promise<number> {
    return this.kv.put(blacklistKey(entry.kind, entry.id), this.encoder.encode(JSON.stringify(entry)));
  }

  /** The active entry, or undefined (absent, deleted, expired, or unreadable). */
  async get(kind: BlacklistKind, id: string): Promise<BlacklistEntry | undefined> {
    const entry = await this.kv.get(blacklistKey(kind, id));
    if (entry === undefined || entry.operation === 'DEL' || entry.value === undefined) return undefined;
    const value = readable(entry.value);
    if (value === undefined || value.kind !== kind || value.id !== id || !isBlacklistActive(value, this.now())) return undefined;
    return value;
  }

  /** Every active entry, sorted by kind then id. */
  async list(kind?: BlacklistKind): Promise<BlacklistEntry[]> {
    const keys = (await this.kv.keys()).filter((k) => kind === undefined || k.startsWith(`${kind}.`));
    const entries = await Promise.all(keys.map((k) => this.kv.get(k)));
    const now = this.now();
    const out: BlacklistEntry[] = [];
    for (const e of entries) {
      if (e === undefined || e.operation === 'DEL' || e.value === undefined) continue;
      const value = readable(e.value);
      if (value !== undefined && isBlacklistActive(value, now) && blacklistKey(value.kind, value.id) === e.key) out.push(value);
    }
    return out.sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.kind < b.kind ? -1 : 1));
  }

  /** Deletes the key; returns whether an ACTIVE entry was there (an expired one is cleaned up too). */
  async remove(kind: BlacklistKind, id: string): Promise<boolean> {
    const key = blacklistKey(kind, id);
    const entry = await this.kv.get(key);
    if (entry === undefined || entry.operation === 'DEL' || entry.value === undefined) return false;
    const value = readable(entry.value);
    await this.kv.delete(key);
    return value !== undefined && isBlacklistActive(value, this.now());
  }

  /**
   * Deletes keys whose entry expired (or is unreadable). Safe to run on several replicas at once:
   * it re-reads each key right before deleting and skips it when its revision moved (an entry
   * re-added meanwhile). A re-add between that read and the delete can still be lost: KvStore
   * has no conditional delete yet.
   */
  async sweep(): Promise<number> {
    let deleted = 0;
    for (const key of await this.kv.keys()) {
      const first = await this.kv.get(key);
      if (first === undefined || first.operation === 'DEL' || first.value === undefined) continue;
      const value = readable(first.value);
      if (value !== undefined && isBlacklistActive(value, this.now())) continue;
      const again = await this.kv.get(key);
      if (again?.revision !== first.revision) continue;
      await this.kv.delete(key);
      deleted++;
    }
    return deleted;
  }
}

/** Largest |time| a Date can hold (ECMA-262 time values), in ms. */
const DATE_RANGE_MS = 8.64e15;
const isTime = (t: number | undefined) => t === undefined || (Number.isSafeInteger(t) && Math.abs(t) <= DATE_RANGE_MS);

/**
 * An entry the API can answer with: its times are integers a Date can hold. Anything else (written
 * by another tool) is treated as unreadable: never listed (it would break the documented schema),
 * deleted by the janitor.
 */
function readable(data: Uint8Array): BlacklistEntry | undefined {
  const entry = parseBlacklistEntry(data);
  if (entry === undefined || !isTime(entry.createdAt) || !isTime(entry.expiresAt) || !isTime(entry.issuedBefore)) return undefined;
  return entry;
}
