import { afterAll, beforeAll, expect, it } from 'vitest';
import { mintToken } from '../../../test/support/tokens.js';
import { startTestEdge, waitFor, type TestEdge } from './support/harness.js';

let t: TestEdge;
beforeAll(async () => {
  t = await startTestEdge({ env: { MESH_CANARY_INTERVAL_MS: '100', MESH_CANARY_MISSES: '3' } });
});
afterAll(() => t.stop());

// Issue 10, broker-path health: an edge whose subscriptions silently stop delivering (its bus
// connection still looks fine) must take itself out of rotation.
it('turns unready when its subscriptions stop delivering, and ready again when they resume', async () => {
  const ready = async () => (await fetch(`${t.opsUrl}/readyz`)).status;
  await waitFor(async () => (await ready()) === 200 || undefined);
  const c = await t.connect({ token: await mintToken({ sub: 'deaf-user' }) });
  t.testBus!.setDeaf(true);
  await waitFor(async () => (await ready()) === 503 || undefined, 5000, 'readiness to fail');
  const body = (await (await fetch(`${t.opsUrl}/readyz`)).json()) as { failing: Record<string, string> };
  expect(body.failing['delivery']).toMatch(/delivery path broken/);
  expect(t.edge.stats().canary.failures).toBe(1);
  t.testBus!.setDeaf(false);
  await waitFor(async () => (await ready()) === 200 || undefined, 5000, 'readiness to come back');
  t.pushUser('deaf-user', 'heard again');
  expect(Buffer.from(await c.nextPush()).toString()).toBe('heard again');
  await c.close();
});
