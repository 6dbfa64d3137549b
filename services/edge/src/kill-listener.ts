import type { Bus, BusMessage, BusSubscription } from '@session-mesh/bus';
import { CloseCode, Header, parseKillSubject, tryDecodeId, type Subjects } from '@session-mesh/protocol';
import { closeConnection, sanitiseReason, type ConnectionIndex, type ConnState } from './connection-index.js';
import type { ConnectionIds } from './identity.js';

/** Marks a narrowing header that is present but not a valid encoded id: it matches nobody. */
const NOBODY = '\u0000';

export interface KillStats {
  kills: number;
}

/**
 * Kills are rare, so the edge spends ONE long-lived wildcard subscription (`<prefix>.kill.>`) on
 * all of them and filters locally: nothing per connection.
 */
export function startKillListener(deps: {
  readonly bus: Bus;
  readonly subjects: Subjects;
  readonly index: ConnectionIndex;
  readonly ids: ConnectionIds;
  readonly stats: KillStats;
}): BusSubscription {
  const { bus, subjects, index, ids, stats } = deps;
  return bus.subscribe(subjects.killAll(), (msg: BusMessage) => {
    const targets = killTargets(msg, subjects.prefix, index, ids);
    if (targets.length === 0) return;
    const reason = sanitiseReason(msg.headers?.get(Header.Reason), 'killed');
    for (const conn of targets) {
      if (closeConnection(conn, CloseCode.KILLED, reason)) stats.kills++;
    }
  });
}

/** The local connections a kill message addresses (a copy: closing edits the index). */
export function killTargets(msg: BusMessage, prefix: string, index: ConnectionIndex, ids: ConnectionIds): ConnState[] {
  const target = parseKillSubject(prefix, msg.subject);
  if (target === undefined) return [];
  const id = tryDecodeId(target.token);
  if (id === undefined) return [];
  if (target.kind === 'conn') {
    const seq = ids.parse(id);
    const conn = seq === undefined ? undefined : index.bySeq.get(seq);
    return conn === undefined ? [] : [conn];
  }
  const group = target.kind === 'user' ? index.users.get(id) : index.sessions.get(id);
  if (group === undefined) return [];
  let session: string | undefined;
  let client: string | undefined;
  const headers = msg.headers;
  if (headers !== undefined) {
    if (target.kind === 'user') {
      const value = headers.get(Header.Session);
      if (value !== '') session = tryDecodeId(value) ?? NOBODY;
    }
    const value = headers.get(Header.Client);
    if (value !== '') client = tryDecodeId(value) ?? NOBODY;
  }
  return group.conns.filter((c) => (session === undefined || c.session === session) && (client === undefined || c.client === client));
}
