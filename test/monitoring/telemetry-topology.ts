/**
 * The real processes whose /metrics the telemetry tests scrape: one nats-server with JetStream, an
 * edge, a registry and the admin API (each its built dist/main.js), and a backend bus connection.
 */
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { ADMIN_TOKEN, commonEnv } from '../support/mesh-cluster.js';
import { parsePrometheusText, type Scrape } from './prometheus-text.js';

export interface TelemetryTopology {
  readonly nats: NatsServerHandle;
  readonly edge: ServiceProcess;
  readonly registry: ServiceProcess;
  readonly admin: ServiceProcess;
  readonly backend: Bus;
  edgeUrl(): string;
  adminUrl(): string;
  /** GET /metrics on a service's ops port, checked for status and content type, parsed. */
  scrape(service: ServiceProcess): Promise<Scrape>;
  stop(): Promise<void>;
}

export async function startTelemetryTopology(): Promise<TelemetryTopology> {
  const nats = await startNatsServer({ jetstream: true });
  const env = { ...commonEnv(nats.url), MESH_KV_REPLICAS: '1' };
  const started: ServiceProcess[] = [];
  let backend: Bus | undefined;
  const stop = async () => {
    await Promise.all(started.map((p) => p.kill()));
    await backend?.close().catch(() => undefined);
    await nats.stop();
  };
  try {
    const admin = await startService('admin', { ...env, MESH_ADMIN_TOKENS: ADMIN_TOKEN });
    started.push(admin);
    const registry = await startService('registry', { ...env, MESH_REGISTRY_ID: 'registry-0' });
    started.push(registry);
    const edge = await startService('edge', { ...env, MESH_EDGE_ID: 'edge-0' });
    started.push(edge);
    backend = await connectNatsBus({ servers: [nats.url], name: 'test-backend' });
    return {
      nats,
      edge,
      registry,
      admin,
      backend,
      edgeUrl: () => `ws://127.0.0.1:${edge.port}`,
      adminUrl: () => `http://127.0.0.1:${admin.port}`,
      async scrape(service) {
        const res = await fetch(`http://127.0.0.1:${service.opsPort}/metrics`);
        const body = await res.text();
        if (res.status !== 200) throw new Error(`${service.name} /metrics answered ${res.status}: ${body}`);
        if (!(res.headers.get('content-type') ?? '').startsWith('text/plain')) throw new Error(`${service.name} /metrics content type ${res.headers.get('content-type')}`);
        return parsePrometheusText(body);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
