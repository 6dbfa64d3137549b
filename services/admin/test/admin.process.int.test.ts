/**
 * The standalone admin process (dist/main.js) on real nats-servers: probes on the internal ops port
 * only, and (issue 6 bug 9/10) no crash while JetStream cannot serve the blacklist bucket: the
 * process stays up and unready, routes that need the bucket answer 503, the rest keep working.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { startService, type ServiceProcess } from '../../../test/support/processes.js';
import { waitFor } from '../../../test/support/wait-for.js';

const ADMIN_TOKEN = 'process-test-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe('admin process', () => {
  let nats: NatsServerHandle | undefined;
  let admin: ServiceProcess | undefined;

  afterEach(async () => {
    await admin?.kill();
    await nats?.stop();
    admin = undefined;
    nats = undefined;
  });

  const env = (url: string) => ({ MESH_NATS_URL: url, MESH_ADMIN_TOKENS: ADMIN_TOKEN, MESH_LOG_LEVEL: 'info' });
  const readyz = async (p: ServiceProcess) => {
    const r = await fetch(`http://127.0.0.1:${p.opsPort}/readyz`);
    return { status: r.status, body: (await r.json()) as { failing?: Record<string, string> } };
  };

  it('serves /healthz and /readyz on the ops port, not on the API port, and creates the blacklist bucket', async () => {
    nats = await startNatsServer({ jetstream: true });
    admin = await startService('admin', env(nats.url));
    expect(admin.opsPort).not.toBe(admin.port);
    expect((await fetch(`http://127.0.0.1:${admin.opsPort}/healthz`)).status).toBe(200);
    const ready = await readyz(admin);
    expect(ready.status, JSON.stringify(ready.body)).toBe(200);
    for (const path of ['/healthz', '/readyz']) expect((await fetch(`http://127.0.0.1:${admin.port}${path}`)).status, path).toBe(404);
    const list = await fetch(`http://127.0.0.1:${admin.port}/v1/blacklist`, { headers: auth });
    expect(list.status).toBe(200);
    const streams = (await (await fetch(`${nats.monitorUrl}/jsz?streams=true`)).json()) as { account_details?: Array<{ stream_detail?: Array<{ name: string }> }> };
    expect(streams.account_details?.flatMap((a) => a.stream_detail ?? []).map((s) => s.name)).toContain('KV_mesh_blacklist');
  });

  it('stays up and unready, never crashing, while JetStream cannot serve the bucket', async () => {
    nats = await startNatsServer({ jetstream: false });
    admin = await startService('admin', env(nats.url), { waitReady: false });
    const ready = await waitFor(
      async () => {
        const r = await readyz(admin!).catch(() => undefined);
        return r?.body.failing?.['blacklist'] !== undefined ? r : undefined;
      },
      { timeoutMs: 15_000, what: 'the ops port to report the blacklist as not ready' },
    );
    expect(ready.status).toBe(503);
    expect(ready.body.failing?.['blacklist']).toMatch(/blacklist bucket/);
    // Several open attempts later the process is still there, still unready, and still answering.
    await waitFor(() => (admin!.output().match(/blacklist bucket not available yet/g)?.length ?? 0) >= 1, { what: 'a retry log line' });
    const blacklist = await fetch(`http://127.0.0.1:${admin.port}/v1/blacklist`, { headers: auth });
    expect(blacklist.status).toBe(503);
    expect(await blacklist.json()).toMatchObject({ error: 'kv_unavailable' });
    const kill = await fetch(`http://127.0.0.1:${admin.port}/v1/users/alice/kill`, { method: 'POST', headers: auth });
    expect(kill.status).toBe(202);
    expect(admin.child.exitCode).toBeNull();
    expect((await readyz(admin)).status).toBe(503);
  });
});
