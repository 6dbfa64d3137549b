import { afterAll, expect, it } from 'vitest';
import { connectNatsBus, type Bus } from '@session-mesh/bus';
import { startNatsServer, type NatsServerHandle } from '../../../test/support/nats-server.js';
import { waitFor } from '../../../test/support/wait-for.js';

let server: NatsServerHandle | undefined;
let bus: Bus | undefined;
afterAll(async () => {
  if (server?.pid !== undefined) process.kill(server.pid, 'SIGCONT');
  await bus?.close().catch(() => undefined);
  await server?.kill();
});

// Issue 9, finding 4: a NATS node frozen (SIGSTOP, a stalled VM) went unnoticed by its clients
// for nats.js's default 2-minute ping interval. The bus pings (default every 5 s, 2 outstanding)
// and reports the server dead; here with a short interval so the test is quick.
it('notices a frozen server within a few ping intervals and reports it disconnected', async () => {
  server = await startNatsServer({});
  bus = await connectNatsBus({ servers: server.url, name: 'frozen-test', pingIntervalMs: 300 });
  const events: string[] = [];
  bus.onEvent((e) => events.push(e.type));
  const frozenAt = Date.now();
  process.kill(server.pid!, 'SIGSTOP');
  await waitFor(() => (events.includes('disconnected') ? true : undefined), { timeoutMs: 5000, what: 'the bus to report the frozen server' });
  console.log(`frozen server noticed after ${Date.now() - frozenAt} ms (ping interval 300 ms, 2 outstanding)`);
  expect(bus.isConnected()).toBe(false);
  process.kill(server.pid!, 'SIGCONT');
  await waitFor(() => (bus!.isConnected() ? true : undefined), { timeoutMs: 10_000, what: 'the bus to reconnect' });
});
