import { Header, type ConnectionRecord, type Subjects } from '@session-mesh/protocol';
import type { Logger } from '@session-mesh/runtime';
import type { ChangeSink } from '../intake/presence-intake.js';
import type { PresenceStore, StoreChange } from '../state/presence-store.js';

export type ClusterUserPolicy = 'close-newest' | 'close-oldest';

export interface UserCapStats {
  /** Connections closed because their user had more than the cluster-wide cap. */
  closed: number;
}

/** The close code the edge uses for a kill carrying it (docs/subjects.md, kills). */
const TOO_MANY_CONNECTIONS = '4013';

/**
 * The cluster-wide cap on one user's connections (no peer has one: centrifugal/centrifugo#396).
 * The registry already knows every user's connections on every edge, so no per-connect round trip
 * is added: after a connect is applied, the LEADER counts the user's connections and kills the
 * surplus (the newest, or the oldest, by connect time) with close code 4013 through the normal
 * kill subjects. Overshoot: a user can hold more than the cap only between a connect and the
 * kill's arrival (one event plus one kill through NATS, milliseconds), and while no replica
 * leads (up to the lease TTL); a new leader re-checks every user over the cap when it takes over.
 */
export class UserCap implements ChangeSink {
  readonly stats: UserCapStats = { closed: 0 };
  /** Kills already sent, so a connection is killed once even if events repeat. */
  private readonly killed = new Set<string>();

  constructor(
    private readonly deps: {
      readonly inner: ChangeSink;
      readonly store: PresenceStore;
      readonly max: number;
      readonly policy: ClusterUserPolicy;
      readonly isLeader: () => boolean;
      readonly publish: (subject: string, data: Uint8Array, headers?: Record<string, string>) => void;
      readonly subjects: Subjects;
      readonly logger: Logger;
    },
  ) {}

  changed(change: StoreChange): void {
    this.deps.inner.changed(change);
    this.afterChange(change);
  }

  snapshotApplied(edge: string, change: StoreChange): void {
    this.deps.inner.snapshotApplied(edge, change);
    this.afterChange(change);
  }

  private afterChange(change: StoreChange): void {
    for (const r of change.removed) this.killed.delete(r.conn);
    if (this.deps.max === 0 || !this.deps.isLeader()) return;
    const users = new Set(change.added.map((r) => r.user));
    for (const user of users) this.enforce(user);
  }

  edgeLost(edge: string, change: StoreChange): boolean {
    for (const r of change.removed) this.killed.delete(r.conn);
    return this.deps.inner.edgeLost(edge, change);
  }

  /** A new leader checks everybody (caps may have been passed while nobody led). */
  enforceAll(): void {
    if (this.deps.max === 0 || !this.deps.isLeader()) return;
    for (const user of this.deps.store.onlineUsers()) this.enforce(user);
  }

  private enforce(user: string): void {
    const { store, max, policy } = this.deps;
    const live = store.connectionsOfUser(user).filter((r) => !this.killed.has(r.conn));
    if (live.length <= max) return;
    // Oldest first; ties broken by connection id for a stable choice on every replica.
    live.sort((a, b) => a.connectedAt - b.connectedAt || (a.conn < b.conn ? -1 : 1));
    const surplus: ConnectionRecord[] = policy === 'close-oldest' ? live.slice(0, live.length - max) : live.slice(max);
    for (const r of surplus) {
      this.killed.add(r.conn);
      this.stats.closed++;
      this.deps.publish(this.deps.subjects.killConnection(r.conn), new Uint8Array(0), {
        [Header.Reason]: `more than ${max} connections for this user in the cluster`,
        [Header.CloseCode]: TOO_MANY_CONNECTIONS,
      });
    }
    this.deps.logger.info({ connections: live.length, max, closed: surplus.length }, 'cluster-wide per-user cap: closed the surplus');
  }
}
