import { Writable } from 'node:stream';
import { MemoryBroker, type Bus, type BusMessage, type BusStream } from '@session-mesh/bus';
import { afterEach, beforeEach } from 'vitest';
import { pushStreamConfig } from '@session-mesh/edge';
import { createSubjects } from '@session-mesh/protocol';
import { createLogger, Health, type Logger, type Tracing } from '@session-mesh/runtime';
import type { FastifyInstance } from 'fastify';
import { createAdmin } from '../../src/admin.js';
import type { BlacklistBucket } from '../../src/blacklist-bucket.js';
import type { AdminConfig } from '../../src/config.js';
import { waitFor } from '../../../../test/support/wait-for.js';
import { TEST_JWT_SECRET } from '../../../../test/support/tokens.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const subjects = createSubjects('mesh');

export function testConfig(overrides: Partial<AdminConfig> = {}): AdminConfig {
  return {
    natsUrl: undefined,
    subjectPrefix: 'mesh',
    logLevel: 'info',
    host: '127.0.0.1',
    port: 0,
    tokens: [ADMIN_TOKEN],
    adminRole: 'mesh-admin',
    jwt: { key: { kind: 'secret', secret: TEST_JWT_SECRET }, sessionClaim: 'sub' },
    jwtSessionClaim: 'jti',
    blacklistBucket: 'mesh_blacklist',
    kvReplicas: 1,
    maxPushBytes: 1024,
    registryTimeoutMs: 300,
    durableTimeoutMs: 2_000,
    janitorIntervalMs: 20,
    shutdownTimeoutMs: 1_000,
    opsHost: '127.0.0.1',
    opsPort: 0,
    ...overrides,
  };
}

/** Every log line the app writes, parsed: lets tests read audit lines and check nothing leaks. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly logger: Logger;

  /** `traceIds`: lines written inside a span carry its trace_id and span_id (as main.ts sets up with tracing on). */
  constructor(options: { traceIds?: boolean } = {}) {
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.length === 0) continue;
          this.raw.push(line);
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    this.logger = createLogger({ name: 'admin-test', level: 'info', destination: stream, traceIds: options.traceIds === true });
  }

  audits(): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l['audit'] === true);
  }
}

export interface TestAdmin {
  readonly app: FastifyInstance;
  readonly health: Health;
  readonly logs: LogCapture;
  readonly clock: { t: number | undefined };
  readonly blacklist: BlacklistBucket;
}

/**
 * The admin role on `bus`, with a clock tests can move (undefined: the real one). Resolves once
 * the blacklist is loaded (unless `waitLoaded` is false); closing the app also stops the role's
 * background jobs, so tests close one thing.
 */
export async function buildTestAdmin(
  bus: Bus,
  overrides: Partial<AdminConfig> = {},
  options: { waitLoaded?: boolean; tracing?: Tracing } = {},
): Promise<TestAdmin> {
  const logs = new LogCapture({ traceIds: options.tracing !== undefined });
  const health = new Health();
  const clock: { t: number | undefined } = { t: undefined };
  const admin = await createAdmin({
    bus,
    logger: logs.logger,
    health,
    config: testConfig(overrides),
    subjects,
    now: () => clock.t ?? Date.now(),
    ...(options.tracing !== undefined ? { tracing: options.tracing } : {}),
  });
  admin.app.addHook('onClose', () => admin.stopBackground());
  await admin.app.ready();
  if (options.waitLoaded !== false) await waitFor(() => admin.blacklist.readiness() === true, { what: 'the admin blacklist to load' });
  return { app: admin.app, health, logs, clock, blacklist: admin.blacklist };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const admin = bearer(ADMIN_TOKEN);

/**
 * The push stream as an edge creates it at start (the edge's own pushStreamConfig), for tests that
 * run the admin without an edge: durable pushes need it.
 */
export function createPushStream(bus: Bus): Promise<BusStream> {
  return bus.stream('MESH_PUSH', pushStreamConfig(subjects, { maxAgeS: 3600, maxMsgs: 0, maxBytes: 0, replicas: 1 }));
}

/** Keeps a received message (NATS messages expose fields through getters and reuse buffers). */
export function copy(msg: BusMessage): BusMessage {
  return { subject: msg.subject, data: msg.data.slice(), headers: msg.headers, reply: msg.reply };
}

/**
 * A fresh admin on its own memory bus for every test of the calling file (beforeEach/afterEach);
 * read `current.admin` and `current.bus` inside the tests.
 */
export function useMemoryAdmin(): { readonly admin: TestAdmin; readonly bus: Bus } {
  const current = {} as { admin: TestAdmin; bus: Bus };
  beforeEach(async () => {
    current.bus = new MemoryBroker().connect('admin');
    current.admin = await buildTestAdmin(current.bus);
  });
  afterEach(async () => {
    await current.admin.app.close();
    await current.bus.close();
  });
  return current;
}
