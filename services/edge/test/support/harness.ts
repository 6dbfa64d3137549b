import { Writable } from 'node:stream';
import type { Bus, BusMessage, HeaderValues } from '@session-mesh/bus';
import { startEdge, loadEdgeConfig, type EdgeConfig, type EdgeHandle } from '@session-mesh/edge';
import { createSubjects, Header, encodeId, type Subjects } from '@session-mesh/protocol';
import { createLogger, Health, startOpsServer, type Logger } from '@session-mesh/runtime';
import { ensureBlacklistBucket } from '../../../../test/support/blacklist-bucket.js';
import { TEST_JWT_SECRET } from '../../../../test/support/tokens.js';
import { connectClient, waitFor, type ConnectOptions, type MeshClient } from '../../../../test/support/ws-client.js';
import { createTestBus, type TestBus } from './test-bus.js';

let edgeCounter = 0;

export interface TestEdge {
  readonly edge: EdgeHandle;
  readonly config: EdgeConfig;
  readonly bus: Bus;
  /** The memory test bus (undefined when the edge runs on a bus given by the test, e.g. NATS). */
  readonly testBus: TestBus | undefined;
  readonly health: Health;
  readonly subjects: Subjects;
  readonly url: string;
  /** The public port over HTTP (only upgrades are answered there). */
  readonly httpUrl: string;
  /** The internal ops port: /healthz, /readyz, /stats. */
  readonly opsUrl: string;
  readonly clients: MeshClient[];
  /** Everything published on a subject pattern since the edge started (e.g. events). */
  recorded(pattern: string): BusMessage[];
  connect(options: Omit<ConnectOptions, 'url'>): Promise<MeshClient>;
  /** Publishes to a user's push subject like a backend would. */
  pushUser(user: string, payload: Uint8Array | string, narrow?: { session?: string; client?: string }): void;
  pushSession(session: string, payload: Uint8Array | string, narrow?: { client?: string }): void;
  stop(): Promise<void>;
}

export interface TestEdgeOptions {
  readonly env?: Record<string, string>;
  /** Share a bus between edges (multi-edge tests). */
  readonly testBus?: TestBus;
  /** Run on this bus instead (e.g. a NATS bus); the caller closes it. */
  readonly bus?: Bus;
  readonly record?: readonly string[];
  /** Collects the edge's log lines (JSON) at info level, instead of the silent default. */
  readonly logLines?: string[];
}

function bytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
}

export async function startTestEdge(options: TestEdgeOptions = {}): Promise<TestEdge> {
  const testBus = options.bus !== undefined ? undefined : (options.testBus ?? (await createTestBus()));
  const bus = options.bus ?? testBus!.bus;
  const config = loadEdgeConfig({
    MESH_EDGE_HOST: '127.0.0.1',
    MESH_EDGE_PORT: '0',
    MESH_EDGE_ID: `edge-${process.pid}-${++edgeCounter}`,
    MESH_JWT_SECRET: TEST_JWT_SECRET,
    MESH_HEARTBEAT_INTERVAL_MS: '200',
    MESH_DRAIN_DELAY_MS: '0',
    MESH_DRAIN_SPREAD_MS: '0',
    ...options.env,
  });
  const lines = options.logLines;
  const logger: Logger =
    lines === undefined
      ? createLogger({ name: 'edge-test', level: process.env['EDGE_TEST_LOG'] ?? 'silent' })
      : createLogger({ name: 'edge-test', level: 'info', destination: new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }) });
  const health = new Health();
  const subjects = createSubjects(config.subjectPrefix);
  const recorded = new Map<string, BusMessage[]>();
  const recordSubs = (options.record ?? [`${config.subjectPrefix}.events.>`]).map((pattern) => {
    const list: BusMessage[] = [];
    recorded.set(pattern, list);
    return bus.subscribe(pattern, (msg) => list.push({ subject: msg.subject, data: msg.data.slice(), headers: msg.headers }));
  });
  await bus.flush();
  await ensureBlacklistBucket(bus, config.kvReplicas, config.blacklistBucket);
  const ops = await startOpsServer({ health, port: 0, host: '127.0.0.1' });
  const edge = await startEdge({ bus, logger, health, config, subjects });
  ops.route('/stats', () => ({ status: 200, body: JSON.stringify(edge.stats()) }));
  const clients: MeshClient[] = [];
  const url = `ws://127.0.0.1:${edge.port}/`;

  const push = (subject: string, payload: Uint8Array | string, narrow: { session?: string; client?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (narrow.session !== undefined) headers[Header.Session] = encodeId(narrow.session);
    if (narrow.client !== undefined) headers[Header.Client] = encodeId(narrow.client);
    bus.publish(subject, bytes(payload), Object.keys(headers).length > 0 ? (headers as HeaderValues) : undefined);
  };

  return {
    edge,
    config,
    bus,
    testBus,
    health,
    subjects,
    url,
    httpUrl: `http://127.0.0.1:${edge.port}`,
    opsUrl: `http://127.0.0.1:${ops.port}`,
    clients,
    recorded: (pattern) => recorded.get(pattern) ?? [],
    async connect(opts) {
      const client = await connectClient({ url, ...opts });
      clients.push(client);
      return client;
    },
    pushUser: (user, payload, narrow) => push(subjects.pushUser(user), payload, narrow),
    pushSession: (session, payload, narrow) => push(subjects.pushSession(session), payload, narrow),
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await edge.drain();
      await ops.close();
      for (const sub of recordSubs) sub.unsubscribe();
      if (options.testBus === undefined) await testBus?.close();
    },
  };
}

export { waitFor };
