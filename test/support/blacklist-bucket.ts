import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { BLACKLIST_BUCKET } from '@session-mesh/protocol';
import { BLACKLIST_HISTORY } from '../../services/admin/src/blacklist-bucket.js';

/**
 * The admin service owns the blacklist bucket and edges only open it (they wait, unready, until it
 * exists). Tests that run edges without an admin create it the way the admin would: same history,
 * the replicas the services are given.
 */
export async function ensureBlacklistBucket(target: string | Bus, replicas = 1, bucket = BLACKLIST_BUCKET): Promise<void> {
  const bus = typeof target === 'string' ? await connectNatsBus({ servers: target, name: 'test-blacklist-owner' }) : target;
  try {
    await bus.kv(bucket, { create: true, replicas, history: BLACKLIST_HISTORY });
  } finally {
    if (typeof target === 'string') await bus.close();
  }
}
