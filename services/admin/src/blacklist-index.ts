import { blacklistKey, blacklistRefuses, isBlacklistActive, parseBlacklistEntry, type BlacklistEntry } from '@session-mesh/protocol';

/**
 * The blacklist as a map from KV key to entry, fed with the bucket's changes, answering "which
 * entry refuses these credentials now". Pure (no I/O): the edge's BlacklistView keeps the same map
 * for connections; the admin API keeps one for its own JWTs. Candidate for libs/protocol.
 */
export class BlacklistIndex {
  private readonly entries = new Map<string, BlacklistEntry>();

  get size(): number {
    return this.entries.size;
  }

  /**
   * Applies one change of the bucket: a value (undefined for a delete) under its key. Returns the
   * stored entry, or `malformed` when the value is unreadable or sits under the wrong key (the key
   * is then forgotten: an unreadable value must not keep refusing anyone).
   */
  apply(key: string, value: Uint8Array | undefined): BlacklistEntry | 'deleted' | 'malformed' {
    if (value === undefined) {
      this.entries.delete(key);
      return 'deleted';
    }
    const parsed = parseBlacklistEntry(value);
    if (parsed === undefined || blacklistKey(parsed.kind, parsed.id) !== key) {
      this.entries.delete(key);
      return 'malformed';
    }
    this.entries.set(key, parsed);
    return parsed;
  }

  /** The entry refusing a token of this user (and session, when it names one) issued at `issuedAtMs`. */
  refusing(user: string, session: string | undefined, issuedAtMs: number | undefined, now: number): BlacklistEntry | undefined {
    if (session !== undefined) {
      const bySession = this.entries.get(blacklistKey('session', session));
      if (bySession !== undefined && blacklistRefuses(bySession, now, issuedAtMs)) return bySession;
    }
    const byUser = this.entries.get(blacklistKey('user', user));
    if (byUser !== undefined && blacklistRefuses(byUser, now, issuedAtMs)) return byUser;
    return undefined;
  }

  /** Forgets expired entries (their keys are deleted by the janitor later; this keeps memory flat). */
  purgeExpired(now: number): void {
    for (const [key, entry] of this.entries) if (!isBlacklistActive(entry, now)) this.entries.delete(key);
  }
}
