/**
 * A TCP proxy a test puts between a service and NATS to partition them without network
 * namespaces. `cut()` drops every proxied connection and refuses new ones (the client sees a
 * disconnect at once); `blackhole()` keeps the sockets open but forwards nothing and accepts new
 * connections into the same silence (what a lost network path looks like: only pings notice);
 * `heal()` forwards again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'open' | 'cut' | 'blackhole';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  readonly mode: ProxyMode;
  cut(): void;
  blackhole(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let mode: ProxyMode = 'open';
  const pairs = new Set<readonly [Socket, Socket]>();
  const server: Server = createServer((client) => {
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair = [client, upstream] as const;
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    // Forward by hand: in blackhole mode bytes are read and discarded.
    client.on('data', (d) => {
      if (mode === 'open') upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (mode === 'open') client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dropAll = (): void => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    cut: () => {
      mode = 'cut';
      dropAll();
    },
    blackhole: () => {
      mode = 'blackhole';
    },
    heal: () => {
      // Sockets that lived through a blackhole have lost bytes: the protocol on them is broken.
      if (mode === 'blackhole') dropAll();
      mode = 'open';
    },
    close: async () => {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
