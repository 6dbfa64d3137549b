/**
 * A JetStream cluster that is still FORMING when the caller gets it: every node is started at the
 * same moment and handed back as soon as it accepts client connections, before routes are up and
 * before a meta leader is elected (test/support/nats-server.ts's startNatsCluster waits for both,
 * which is what most tests want; this is for the services that start alongside their cluster).
 */
import { reservePort, startNatsServer, type NatsServerHandle } from '../../../../test/support/nats-server.js';

export interface FormingCluster {
  readonly servers: readonly NatsServerHandle[];
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

let clusterSeq = 0;

/**
 * Released route ports can be taken by another node's random client or monitoring port in the
 * moment before its own bind (seen once in 20 starts): a node that fails to start is retried with
 * a fresh cluster, twice at most; a real startup error fails all three attempts.
 */
export async function startFormingCluster(size = 3): Promise<FormingCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startOnce(size: number): Promise<FormingCluster> {
  const name = `mesh-forming-${process.pid}-${++clusterSeq}`;
  const reservations = await Promise.all(Array.from({ length: size }, () => reservePort()));
  const routes = reservations.map((r) => `nats-route://127.0.0.1:${r.port}`);
  // Every route port is known; free them all at once and start every node together.
  await Promise.all(reservations.map((r) => r.release()));
  const started = await Promise.allSettled(
    reservations.map((r, i) =>
      startNatsServer({
        jetstream: true,
        name: `${name}-n${i + 1}`,
        cluster: { name, port: r.port, routes: routes.filter((_, j) => j !== i) },
      }),
    ),
  );
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  return { servers, urls: servers.map((s) => s.url), stop };
}
