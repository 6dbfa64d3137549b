import type { Logger } from '@session-mesh/runtime';

export type AuditAction = 'blacklist.add' | 'blacklist.remove' | 'kill' | 'push';

export interface AuditTarget {
  readonly kind: 'user' | 'session' | 'client' | 'connection' | 'broadcast';
  readonly id?: string;
  readonly userId?: string;
  readonly sessionId?: string;
  readonly clientId?: string;
}

/**
 * One pino line per change, `{ audit: true, actor, action, target, ... }`, at info level so it
 * survives the usual log levels. Callers pass only metadata: never a token, never a payload.
 */
export type Audit = (actor: string, action: AuditAction, target: AuditTarget, details?: Record<string, unknown>) => void;

export function createAudit(logger: Logger): Audit {
  const log = logger.child({ component: 'audit' });
  return (actor, action, target, details = {}) => {
    log.info({ ...details, audit: true, actor, action, target }, `audit ${action}`);
  };
}
