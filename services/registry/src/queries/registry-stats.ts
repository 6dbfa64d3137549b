import type { StatsReply } from '@session-mesh/protocol';
import type { EdgeLiveness } from '../state/edge-liveness.js';
import type { PresenceView } from '../state/presence-store.js';

/** Edges (alive ones, and any still holding connections), users, sessions, connections. */
export function registryStats(store: PresenceView, liveness: EdgeLiveness): StatsReply {
  const s = store.stats();
  const edges = new Map<string, { edge: string; connections: number; lastHeartbeat: number }>();
  for (const info of liveness.list()) edges.set(info.edge, { edge: info.edge, connections: store.countOnEdge(info.edge), lastHeartbeat: info.lastHeartbeat });
  for (const e of s.edges) if (!edges.has(e.edge)) edges.set(e.edge, { edge: e.edge, connections: e.connections, lastHeartbeat: 0 });
  return { edges: [...edges.values()].sort((a, b) => a.edge.localeCompare(b.edge)), users: s.users, sessions: s.sessions, connections: s.connections };
}
