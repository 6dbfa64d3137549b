import type { Bus } from '@session-mesh/bus';
import type { Subjects } from '@session-mesh/protocol';
import type { Health, Logger, Tracing } from '@session-mesh/runtime';
import type { FastifyInstance } from 'fastify';
import { buildAdmin } from './app.js';
import type { AdminTokenVerifier } from './auth.js';
import { BlacklistBucket } from './blacklist-bucket.js';
import { startBlacklistJanitor } from './blacklist-janitor.js';
import type { AdminConfig } from './config.js';

export interface AdminDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  /** Where the admin registers its readiness checks (`bus`, `blacklist`); the mesh passes a scoped one. */
  readonly health: Health;
  readonly config: AdminConfig;
  readonly subjects: Subjects;
  /** Verifies admin JWTs; default: built from config.jwt when that is set. */
  readonly verifier?: AdminTokenVerifier;
  /** Wall clock (ms since the epoch) for blacklist expiry; tests may replace it. */
  readonly now?: () => number;
  /** Request spans and push publish spans (traceparent into NATS headers); default off. */
  readonly tracing?: Tracing;
}

/** The admin role, built but not listening: the HTTP app and its background jobs. */
export interface Admin {
  readonly app: FastifyInstance;
  readonly blacklist: BlacklistBucket;
  /** Stops the background jobs (janitor, bucket watch) and waits for a janitor round in progress. */
  stopBackground(): Promise<void>;
  /** Closes the app (no new requests), then stops the background jobs. The bus stays open. */
  close(): Promise<void>;
}

/**
 * Wires the admin role: the blacklist bucket (opened, created and watched in the background), its
 * janitor, and the HTTP app. Readiness (`bus`, `blacklist`) goes on `deps.health`, which whoever
 * serves the ops port reads: services/admin/src/main.ts, or the single-process mesh.
 */
export async function createAdmin(deps: AdminDeps): Promise<Admin> {
  const { bus, config, health } = deps;
  const logger = deps.logger.child({ component: 'admin' });
  const now = deps.now ?? Date.now;

  const blacklist = new BlacklistBucket({ bus, bucket: config.blacklistBucket, replicas: config.kvReplicas, logger, now });
  const app = await buildAdmin({ ...deps, blacklist, now });
  health.addCheck('bus', () => (bus.isConnected() ? true : 'bus disconnected'));
  health.addCheck('blacklist', () => blacklist.readiness());
  void blacklist.start();
  const janitor = startBlacklistJanitor({ sweep: () => blacklist.sweep(), intervalMs: config.janitorIntervalMs, logger });

  const stopBackground = async () => {
    await janitor.stop();
    await blacklist.stop();
  };
  return {
    app,
    blacklist,
    stopBackground,
    close: async () => {
      await app.close();
      await stopBackground();
    },
  };
}

export interface AdminServer {
  readonly app: FastifyInstance;
  /** The port actually bound (useful with MESH_ADMIN_PORT=0). */
  readonly port: number;
  close(): Promise<void>;
}

/** createAdmin, then listens on config.host:config.port. Starts no ops server (the caller owns it). */
export async function startAdmin(deps: AdminDeps): Promise<AdminServer> {
  const admin = await createAdmin(deps);
  try {
    await admin.app.listen({ host: deps.config.host, port: deps.config.port });
  } catch (err) {
    await admin.close();
    throw err;
  }
  const address = admin.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : deps.config.port;
  deps.logger.info({ host: deps.config.host, port }, 'admin API listening');
  return { app: admin.app, port, close: () => admin.close() };
}
