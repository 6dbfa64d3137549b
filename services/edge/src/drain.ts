import { CloseCode } from '@session-mesh/protocol';
import type { Health, Logger } from '@session-mesh/runtime';
import type { Connections } from './connection/connections.js';

/** The close reason of a drain: a reconnect delay hint, different per client so they do not all come back together. */
export function drainReason(maxJitterMs: number): string {
  return `server draining, reconnect; retry-after-ms=${Math.floor(Math.random() * (maxJitterMs + 1))}`;
}

export interface DrainPlan {
  /** Readiness fails and upgrades get 503 this long before any socket is closed (load balancers catch up). */
  readonly delayMs: number;
  /** Sockets are closed in batches over this long, so clients do not all reconnect at once. */
  readonly spreadMs: number;
  /** Each close reason carries a reconnect delay hint, random in [0, this] ms. */
  readonly reconnectJitterMs: number;
}

const BATCH_INTERVAL_MS = 100;

/**
 * Graceful stop of the edge's sockets: not ready and refusing upgrades (503 SERVER_DRAINING) at
 * once, then, after the delay, every socket closed with SERVER_DRAINING in batches spread over
 * the window. The listen socket stays open throughout, so a late client gets a clear 503 rather
 * than a connection reset.
 */
export async function drainConnections(connections: Connections, health: Health, plan: DrainPlan, logger: Logger): Promise<void> {
  connections.startDraining();
  health.startDraining();
  logger.info({ delayMs: plan.delayMs, spreadMs: plan.spreadMs }, 'draining: readiness off, new upgrades refused');
  if (plan.delayMs > 0) await delay(plan.delayMs);
  let remaining = connections.openCount;
  const batches = Math.max(1, Math.ceil(plan.spreadMs / BATCH_INTERVAL_MS));
  const perBatch = Math.max(1, Math.ceil(remaining / batches));
  logger.info({ connections: remaining, perBatch }, 'draining: closing connections with SERVER_DRAINING');
  while (remaining > 0) {
    remaining = connections.closeSome(perBatch, CloseCode.SERVER_DRAINING, () => drainReason(plan.reconnectJitterMs));
    if (remaining > 0) await delay(BATCH_INTERVAL_MS);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
