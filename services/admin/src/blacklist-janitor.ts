import type { Logger } from '@session-mesh/runtime';

export interface BackgroundJob {
  /** Stops the job and waits for a round in progress. */
  stop(): Promise<void>;
}

/**
 * Deletes expired blacklist keys every `intervalMs` (entries carry their expiry; readers ignore
 * expired ones already, this keeps the bucket small). A background job beside the HTTP app:
 * the composition root starts it and stops it after the app. Harmless on several admin
 * replicas at once (see BlacklistStore.sweep); rounds never overlap.
 */
export function startBlacklistJanitor(options: { sweep: () => Promise<number>; intervalMs: number; logger: Logger }): BackgroundJob {
  const { sweep, intervalMs } = options;
  const logger = options.logger.child({ component: 'blacklist-janitor' });
  let round: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (round !== undefined) return;
    round = sweep()
      .then((deleted) => {
        if (deleted > 0) logger.info({ deleted }, 'deleted expired blacklist entries');
      })
      .catch((err: unknown) => logger.warn({ err }, 'blacklist janitor round failed'))
      .finally(() => (round = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await round;
    },
  };
}
