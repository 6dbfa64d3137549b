/**
 * A TCP load balancer in front of the edges, as a Kubernetes Service or a cloud load balancer is:
 * each new connection goes to the next target in turn, skipping targets that refuse it. Clients
 * keep one URL while edges die, drain and come back behind it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpBalancer {
  readonly port: number;
  /** Connections sent to each target port so far. */
  readonly routed: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

export async function startTcpBalancer(targetPorts: readonly number[], host = '127.0.0.1'): Promise<TcpBalancer> {
  let next = 0;
  const routed = new Map<number, number>();
  const open = new Set<Socket>();
  const track = (socket: Socket): void => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  };

  /** Tries the targets in turn from the next one; gives up (closes the client) when all refuse. */
  const route = (client: Socket, tried: number): void => {
    if (tried === targetPorts.length) {
      client.destroy();
      return;
    }
    const port = targetPorts[next++ % targetPorts.length]!;
    const upstream = connect(port, host);
    const refused = (): void => route(client, tried + 1);
    upstream.once('error', refused);
    upstream.once('connect', () => {
      upstream.off('error', refused);
      routed.set(port, (routed.get(port) ?? 0) + 1);
      track(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', drop).on('close', drop);
      client.on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    route(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as { port: number }).port,
    routed,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
