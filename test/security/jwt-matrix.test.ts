/**
 * The JWT attack matrix against a live edge process, one per key setup (HMAC secret, RSA, EC and
 * Ed25519 public keys, a JWKS endpoint that is slowed down and stopped for the kid cases): every
 * token is sent in a real WebSocket upgrade. A good token gets 101 and `welcome`; a bad one gets
 * HTTP 401 with the JSON body {error, closeCode, message}, `error` being the expected answer.
 * Prints per setup: cases, accepted, refused, wrong answers (must be 0). The edges share one
 * nats-server (the blacklist bucket); tokens never depend on it.
 */
import { randomUUID } from 'node:crypto';
import { CloseCode } from '@session-mesh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { eventually, startService, type ServiceProcess } from '../support/processes.js';
import { connectClient } from '../support/ws-client.js';
import { buildJwtSetups, matrixLine, type JwksState, type JwtCase, type JwtSetup } from './support/jwt-cases.js';
import { JwksServer } from './support/jwt-jwks-server.js';

const jwks = new JwksServer();
let setups: JwtSetup[];
let nats: NatsServerHandle;

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  await jwks.start();
  setups = buildJwtSetups(jwks);
});
afterAll(async () => {
  await jwks.stop();
  await nats?.stop();
});

async function enter(state: JwksState): Promise<void> {
  // Slow: answers after 1.5 s (inside the edge's 5 s fetch timeout); dead: connections refused.
  jwks.delayMs = state === 'slow' ? 1500 : 0;
  if (state === 'dead') await jwks.stop();
  else await jwks.start();
}

/** What the edge answered, as the matrix names it, or a description of anything else. */
async function edgeAnswer(edge: ServiceProcess, edgeId: string, c: JwtCase): Promise<string> {
  const client = await connectClient({ url: `ws://127.0.0.1:${edge.port}/`, token: c.token, timeoutMs: 10_000 });
  try {
    if (client.welcome) {
      if (client.welcome.edge !== edgeId) return `welcomed by another process (edge ${JSON.stringify(client.welcome.edge)})`;
      return client.welcome.user === 'alice' ? 'accept' : `accepted as ${JSON.stringify(client.welcome.user)}`;
    }
    if (client.refused) {
      const { status, body } = client.refused;
      let parsed: { error?: unknown; closeCode?: unknown; message?: unknown };
      try {
        parsed = JSON.parse(body) as typeof parsed;
      } catch {
        return `HTTP ${status} with a body that is not JSON: ${body.slice(0, 80)}`;
      }
      const code = typeof parsed.error === 'string' ? CloseCode[parsed.error as keyof typeof CloseCode] : undefined;
      if (status !== 401 || typeof parsed.message !== 'string' || code === undefined || parsed.closeCode !== code) {
        return `HTTP ${status} ${body.slice(0, 160)}`;
      }
      return parsed.error as string;
    }
    return `no HTTP answer (${client.closed ? `closed ${client.closed.code}` : client.error?.message ?? 'nothing'})`;
  } finally {
    await client.close();
  }
}

describe.each(['HS', 'RS', 'ES', 'EdDSA', 'JWKS'])('JWT matrix against a live edge, %s setup', (name) => {
  let edge: ServiceProcess | undefined;
  afterAll(async () => {
    await edge?.stop();
  });

  it('answers every case as expected over HTTP (101 or 401 with the right error)', async () => {
    const setup = setups.find((s) => s.name === name)!;
    const edgeId = `jwt-matrix-${name}-${randomUUID().slice(0, 8)}`;
    edge = await startService('edge', { MESH_NATS_URL: nats.url, MESH_EDGE_HOST: '127.0.0.1', MESH_EDGE_ID: edgeId, MESH_LOG_LEVEL: 'warn', ...setup.env }, { name: `edge (${name})` });
    // /readyz said ready; also see this edge (by its id) admit a good token before the matrix runs.
    const started = edge;
    await eventually(async () => (await edgeAnswer(started, edgeId, setup.cases()[0]!)) === 'accept', `edge ${edgeId} admitting a valid token`, 20_000);
    const wrong: string[] = [];
    let accepted = 0;
    let refused = 0;
    const cases = setup.cases(); // minted now: two cases sit within the clock tolerance
    for (const c of cases) {
      await enter(c.jwks ?? 'up');
      const got = await edgeAnswer(edge, edgeId, c);
      if (got !== c.expect) wrong.push(`${c.name}: expected ${c.expect}, got ${got}`);
      if (got === 'accept') accepted++;
      else refused++;
    }
    await enter('up');
    console.log(matrixLine('live edge', setup.name, { cases: cases.length, accepted, refused, wrong: wrong.length }));
    if (wrong.length > 0) console.log(`edge output (last 4000 characters):\n${edge.output().slice(-4000)}`);
    expect(wrong).toEqual([]);
    expect(edge.child.exitCode).toBeNull(); // nothing crashed it
  });
});
