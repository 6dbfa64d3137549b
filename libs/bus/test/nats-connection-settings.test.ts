/**
 * src/nats/connection-settings.ts: combinations the bus refuses on its own (whatever built the
 * settings), what it logs, and secrets re-read on reconnect: a rotated token file is used after
 * the server's auth changed, against a real TLS nats-server.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startNatsTlsServer, type NatsTlsServer } from '../../../test/support/nats-tls-server.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { connectNatsBus, NatsSettingsError, type Bus, type BusEvent } from '../src/index.js';
import { describeNatsConnection, natsConnectOptions } from '../src/nats/connection-settings.js';

describe('NATS connection settings (no server)', () => {
  it('refuses what nats.js would accept but get wrong', () => {
    expect(() => natsConnectOptions(['tls://a:4222', 'nats://b:4222'], undefined, undefined)).toThrow(NatsSettingsError);
    expect(() => natsConnectOptions(['nats://u:p@a:4222'], undefined, undefined)).toThrow(/must not carry credentials/);
    expect(() => natsConnectOptions(['nats://a:4222'], { tls: { certFile: '/x' } }, undefined)).toThrow(/needs its key/);
    expect(() => natsConnectOptions(['nats://a:4222'], { auth: { method: 'creds', credsFile: '/nonexistent/x.creds' } }, undefined)).toThrow(
      /cannot read the NATS creds file \/nonexistent\/x.creds/,
    );
    expect(() => natsConnectOptions(['nats://a:4222'], { tls: { caFile: '/nonexistent/ca.pem' } }, undefined)).toThrow(/TLS CA file/);
  });

  it('turns TLS on for tls:// URLs and for TLS settings, and describes without secrets', () => {
    expect(natsConnectOptions(['nats://a:4222'], undefined, undefined)).toEqual({});
    expect(natsConnectOptions(['tls://a:4222'], undefined, undefined)).toEqual({ tls: {} });
    const inline = natsConnectOptions(['nats://a:4222'], { auth: { method: 'token', token: { value: 'tok-secret' } } }, undefined);
    expect(typeof inline.authenticator).toBe('function');
    expect(describeNatsConnection(['tls://a:4222'], { auth: { method: 'token', token: { value: 'tok-secret' } } })).toEqual({ auth: 'token', tls: 'system CAs' });
    expect(describeNatsConnection(['nats://a:4222'], { tls: { caFile: '/ca', certFile: '/c', keyFile: '/k' } })).toEqual({ auth: 'none', tls: 'ca file + client certificate' });
    expect(describeNatsConnection(['nats://a:4222'], undefined)).toEqual({ auth: 'none', tls: 'off' });
  });
});

describe('NATS secrets are read again on reconnect', () => {
  let server: NatsTlsServer | undefined;
  let bus: Bus | undefined;
  afterAll(async () => {
    await bus?.close();
    await server?.dispose();
  });

  it('a token rotated in its file is used after the server stops accepting the old one', async () => {
    server = await startNatsTlsServer({ auth: 'token' });
    const tokenFile = server.serviceEnv['MESH_NATS_TOKEN_FILE'] as string;
    const lines: string[] = [];
    const log = (obj: object, msg: string) => lines.push(JSON.stringify({ ...obj, msg }));
    bus = await connectNatsBus({
      servers: server.url,
      name: 'rotation',
      logger: { info: log, warn: log, error: log },
      connection: { auth: { method: 'token', token: { file: tokenFile } }, tls: { caFile: server.files.caFile } },
    });
    const events: BusEvent['type'][] = [];
    bus.onEvent((e) => events.push(e.type));
    const received: string[] = [];
    bus.subscribe('rotation.check', (msg) => received.push(new TextDecoder().decode(msg.data)));
    await bus.flush();

    // The operator rotates: the Secret (file) first, then the server; the server drops the
    // connection authenticated with the old token, and the bus comes back with the new one.
    writeFileSync(tokenFile, 'rotated-token\n');
    await server.reloadAuth('authorization { token: "rotated-token" }');
    await waitFor(() => events.includes('disconnected') && events.includes('reconnected'), { timeoutMs: 15_000, what: 'a disconnect and a reconnect' });
    bus.publish('rotation.check', new TextEncoder().encode('after rotation'));
    await waitFor(() => received.includes('after rotation'), { timeoutMs: 5000, what: 'delivery after the rotation' });
    expect(lines.join('\n')).not.toMatch(/s3cret-token|rotated-token/);
  });
});
