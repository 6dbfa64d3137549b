import type { Bus } from '@session-mesh/bus';
import { BLACKLIST_BUCKET, BLACKLIST_HISTORY } from '@session-mesh/protocol';

/**
 * The admin service owns the blacklist bucket and edges only open it (they wait, unready, until it
 * exists). Tests, benchmarks and scripts that run edges without an admin create it the way the
 * admin would: same history, the replicas the services are given. The bus loads on the first call, so importing the kit stays cheap (scripts that only mint tokens).
 */
export async function ensureBlacklistBucket(target: string | Bus, replicas = 1, bucket = BLACKLIST_BUCKET): Promise<void> {
  const bus = typeof target === 'string' ? await (await import('@session-mesh/bus')).connectNatsBus({ servers: target, name: 'test-blacklist-owner' }) : target;
  try {
    await bus.kv(bucket, { create: true, replicas, history: BLACKLIST_HISTORY });
  } finally {
    if (typeof target === 'string') await bus.close();
  }
}
