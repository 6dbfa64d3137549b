/**
 * The standalone registry process (dist/main.js) on a real nats-server: probes on the internal ops
 * port (MESH_OPS_PORT), and no exit while JetStream cannot serve its bucket: it stays up and
 * unready, saying why, and keeps retrying.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

describe('registry process', () => {
  let nats: NatsServerHandle | undefined;
  let registry: ServiceProcess | undefined;

  afterEach(async () => {
    await registry?.kill();
    await nats?.stop();
    registry = undefined;
    nats = undefined;
  });

  const env = (url: string) => ({ MESH_NATS_URL: url, MESH_REGISTRY_SETTLE_MS: '200', MESH_LOG_LEVEL: 'info' });
  const probe = async (p: ServiceProcess, path: string) => {
    const r = await fetch(`http://127.0.0.1:${p.opsPort}${path}`);
    return { status: r.status, body: (await r.json()) as { failing?: Record<string, string> } };
  };

  it('answers /healthz and /readyz on MESH_OPS_PORT once its state is rebuilt', async () => {
    nats = await startNatsServer({ jetstream: true });
    registry = await startService('registry', env(nats.url));
    expect((await probe(registry, '/healthz')).status).toBe(200);
    expect(await probe(registry, '/readyz')).toEqual({ status: 200, body: { status: 'ready', failing: {} } });
  });

  it('stays up and unready, never exiting, while JetStream cannot serve its bucket', async () => {
    nats = await startNatsServer({ jetstream: false });
    registry = await startService('registry', env(nats.url), { waitReady: false });
    const ready = await waitFor(
      async () => {
        const r = await probe(registry!, '/readyz').catch(() => undefined);
        return r?.body.failing?.['registry'] !== undefined ? r : undefined;
      },
      { timeoutMs: 15_000, what: 'the ops port to report the registry as not ready' },
    );
    expect(ready.status).toBe(503);
    expect(ready.body.failing?.['registry']).toMatch(/KV bucket mesh_registry/);
    // It retries (and says so) rather than exiting.
    await waitFor(() => (registry!.output().match(/waiting for the KV bucket mesh_registry/g)?.length ?? 0) >= 1, { what: 'a waiting log line' });
    expect((await probe(registry, '/healthz')).status).toBe(200);
    expect(registry.child.exitCode).toBeNull();
    expect((await probe(registry, '/readyz')).status).toBe(503);
  });
});
