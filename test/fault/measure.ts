/**
 * What a fault run counts: numbered pushes (sent / delivered / lost / duplicated / out of order),
 * sockets kept and dropped, the registry's presence against the clients' truth connection by
 * connection, presence events against the true transitions, connection-id collisions, the
 * blacklist enforcement delay after the admin API's 201, and recovery time.
 */
import { parseConnectionsReply, parseDisconnectEvent, parsePresenceEvent } from '@session-mesh/protocol';
import type { Population } from './population.js';
import { ADMIN_TOKEN, subjects, type Topology } from './topology.js';

export interface PresenceEventRecord {
  readonly status: 'online' | 'offline';
  readonly at: number;
}

/** Listens to presence and registry-made disconnects, publishes numbered pushes. */
export class Observer {
  readonly presence = new Map<string, PresenceEventRecord[]>();
  /** Disconnect events the registry made (code 0): reason -> count. */
  readonly registryDisconnects = new Map<string, number>();
  /** user -> [seq, sent at] */
  readonly sent = new Map<string, Array<readonly [number, number]>>();
  private readonly seqs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly topology: Topology,
    private readonly population: Population,
  ) {
    topology.observer.subscribe(subjects.presenceAll(), (msg) => {
      const e = parsePresenceEvent(msg.data);
      if (!e.ok) return;
      let list = this.presence.get(e.value.user);
      if (list === undefined) this.presence.set(e.value.user, (list = []));
      list.push({ status: e.value.status, at: Date.now() });
    });
    topology.observer.subscribe(subjects.eventDisconnect(), (msg) => {
      const e = parseDisconnectEvent(msg.data);
      if (e.ok && e.value.code === 0) this.registryDisconnects.set(e.value.reason, (this.registryDisconnects.get(e.value.reason) ?? 0) + 1);
    });
  }

  /** `perTick` users every 20 ms, round robin; each user's pushes are numbered from 1. */
  startPushes(perTick: number): void {
    const users = this.population.clients.map((c) => c.user);
    this.timer = setInterval(() => {
      if (!this.topology.observer.isConnected()) return;
      const at = Date.now();
      for (let k = 0; k < perTick; k++) {
        const user = users[this.cursor++ % users.length]!;
        const seq = (this.seqs.get(user) ?? 0) + 1;
        this.seqs.set(user, seq);
        let list = this.sent.get(user);
        if (list === undefined) this.sent.set(user, (list = []));
        list.push([seq, at]);
        try {
          this.topology.observer.publish(subjects.pushUser(user), this.encoder.encode(String(seq)));
        } catch {
          // the observer's own connection is down: not counted as sent
          list.pop();
          this.seqs.set(user, seq - 1);
        }
      }
    }, 20);
  }

  stopPushes(): void {
    clearInterval(this.timer);
  }

  /** Connection ids the registry holds for `user` (undefined: no registry answered). */
  async registryConns(user: string): Promise<Set<string> | undefined> {
    try {
      const reply = await this.topology.observer.request(subjects.registryUser(user), new Uint8Array(0), { timeoutMs: 1000 });
      const parsed = parseConnectionsReply(reply.data);
      return parsed.ok ? new Set(parsed.value.connections.map((c) => c.conn)) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Connection-by-connection difference between the registry and the open sockets (Infinity: no registry answer). */
  async presenceMismatches(): Promise<number> {
    let mismatches = 0;
    const clients = this.population.clients;
    for (let i = 0; i < clients.length; i += 25) {
      const slice = clients.slice(i, i + 25);
      const answers = await Promise.all(slice.map((c) => this.registryConns(c.user)));
      for (let k = 0; k < slice.length; k++) {
        const held = answers[k];
        if (held === undefined) return Number.POSITIVE_INFINITY;
        const truth = slice[k]!.sock?.conn;
        for (const conn of held) if (conn !== truth) mismatches++;
        if (truth !== undefined && !held.has(truth)) mismatches++;
      }
    }
    return mismatches;
  }
}

export interface BlacklistProbe {
  /** HTTP status of the last attempt, and attempts made (503s are retried every 500 ms). */
  readonly status: number;
  readonly attempts: number;
  /** Mesh-Enforcement header of the 201. */
  readonly enforcement: string;
  /** From the first POST to the 201. */
  readonly ackMs: number;
  /** Victim socket closed this long after the 201 (0 when it was closed before); -1: still open 10 s later. */
  readonly closedAfterAckMs: number;
  /** Reconnects of the blacklisted session welcomed right after the 201, of the attempts. */
  readonly welcomedAfterAck: number;
  readonly reconnectAttempts: number;
}

/** Blacklists the victim's session through the admin API and measures how fast it is enforced. */
export async function probeBlacklist(topology: Topology, victim: { session: string; closedAt(): number | undefined; reconnect(url: string): Promise<boolean> }): Promise<BlacklistProbe> {
  const started = Date.now();
  let status = 0;
  let attempts = 0;
  let enforcement = '';
  while (Date.now() - started < 30_000) {
    attempts++;
    try {
      const res = await fetch(`${topology.adminUrl()}/v1/blacklist/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sessionId: victim.session, ttlSeconds: 600, reason: 'fault table' }),
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      enforcement = res.headers.get('mesh-enforcement') ?? '';
      await res.arrayBuffer();
    } catch {
      status = 0;
    }
    if (status === 201) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const ackAt = Date.now();
  let welcomedAfterAck = 0;
  let reconnectAttempts = 0;
  if (status === 201) {
    for (let i = 0; i < topology.edges.length; i++) {
      reconnectAttempts++;
      if (await victim.reconnect(topology.edgeUrl(i))) welcomedAfterAck++;
    }
  }
  const deadline = Date.now() + 10_000;
  while (victim.closedAt() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const closedAt = victim.closedAt();
  return {
    status,
    attempts,
    enforcement,
    ackMs: ackAt - started,
    closedAfterAckMs: closedAt === undefined ? -1 : Math.max(0, closedAt - ackAt),
    welcomedAfterAck,
    reconnectAttempts,
  };
}
