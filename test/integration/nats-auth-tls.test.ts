/**
 * The NATS connection's security settings, end to end: environment variables -> serviceEnvShape /
 * serviceConfigFrom -> createBus -> a real nats-server with TLS (certificates made by the test) and
 * each authentication method (user/password, token, nkey, creds in operator mode). Wrong secrets,
 * an unknown CA and a missing client certificate are refused; bad combinations are ConfigErrors
 * naming the variable; no secret reaches a log line, the method does.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createBus, type Bus } from '@session-mesh/bus';
import { ConfigError, loadConfig, serviceConfigFrom, serviceEnvShape, z } from '@session-mesh/runtime';
import { startNatsTlsServer, type NatsAuthMethod, type NatsTlsServer } from '../support/nats-tls-server.js';
import { startService, type ServiceProcess } from '../support/processes.js';
import { waitFor } from '../support/wait-for.js';

const schema = z.object(serviceEnvShape);
const configFrom = (vars: Record<string, string>) => serviceConfigFrom(loadConfig(schema, vars));

/** A logger that keeps every line, to assert what was (not) logged. */
function recordingLogger() {
  const lines: string[] = [];
  const log = (level: string) => (obj: object, msg: string) => lines.push(JSON.stringify({ level, ...obj, msg }));
  return { lines, logger: { info: log('info'), warn: log('warn'), error: log('error') } };
}

async function connectWith(vars: Record<string, string>, name: string, logger?: ReturnType<typeof recordingLogger>['logger']): Promise<Bus> {
  const config = configFrom(vars);
  return createBus({ natsUrl: config.natsUrl, nats: config.nats, name, logger });
}

async function roundTrip(bus: Bus): Promise<string> {
  const got = new Promise<string>((resolve) => {
    const sub = bus.subscribe('auth.check', (msg) => {
      sub.unsubscribe();
      resolve(new TextDecoder().decode(msg.data));
    });
  });
  await bus.flush();
  bus.publish('auth.check', new TextEncoder().encode('over tls'));
  return got;
}

/** The secret a method's file holds, to make sure it never appears in a log line. */
function secretsOf(server: NatsTlsServer): string[] {
  return ['MESH_NATS_PASSWORD_FILE', 'MESH_NATS_TOKEN_FILE', 'MESH_NATS_NKEY_SEED_FILE', 'MESH_NATS_CREDS_FILE']
    .map((v) => server.serviceEnv[v])
    .filter((f): f is string => f !== undefined)
    .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
    .map((l) => l.trim())
    .filter((l) => l.length > 8 && !l.startsWith('-----') && !/^\*|NKEYs are sensitive/i.test(l));
}

const servers: NatsTlsServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.dispose()));
});
async function server(auth: NatsAuthMethod, options: { verifyClients?: boolean; jetstream?: boolean } = {}): Promise<NatsTlsServer> {
  const s = await startNatsTlsServer({ auth, ...options });
  servers.push(s);
  return s;
}

const wrongVariable: Record<NatsAuthMethod, string> = {
  'user-password': 'MESH_NATS_PASSWORD_FILE',
  token: 'MESH_NATS_TOKEN_FILE',
  nkey: 'MESH_NATS_NKEY_SEED_FILE',
  creds: 'MESH_NATS_CREDS_FILE',
};

describe('NATS over TLS with each authentication method', () => {
  const buses: Bus[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  for (const method of ['user-password', 'token', 'nkey', 'creds'] as const) {
    it(`${method}: connects with the right secret (logging the method, not the secret), refused with a wrong one`, async () => {
      const s = await server(method);
      const { lines, logger } = recordingLogger();
      const bus = await connectWith(s.serviceEnv, `auth-${method}`, logger);
      buses.push(bus);
      expect(await roundTrip(bus)).toBe('over tls');
      const connecting = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'connecting to NATS');
      expect(connecting).toMatchObject({ auth: method, tls: 'ca file' });
      const secrets = secretsOf(s);
      expect(secrets.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(lines.join('\n')).not.toContain(secret);

      await expect(connectWith({ ...s.serviceEnv, [wrongVariable[method]]: s.wrongCredentialFile }, `wrong-${method}`)).rejects.toThrow(/auth|permission|violation/i);
    });
  }

  it('refuses a server whose certificate does not chain to the configured CA, and one whose URL says tls:// with no CA', async () => {
    const s = await server('token');
    const other = await server('token');
    // The other server's CA does not sign this server's certificate.
    await expect(connectWith({ ...s.serviceEnv, MESH_NATS_TLS_CA_FILE: other.files.caFile }, 'wrong-ca')).rejects.toThrow(/certificate|signature|self.signed/i);
    const { MESH_NATS_TLS_CA_FILE: _ca, ...noCa } = s.serviceEnv;
    await expect(connectWith(noCa, 'no-ca')).rejects.toThrow(/certificate|self.signed|issuer/i);
  });

  it('mutual TLS: refused without a client certificate, connected with one', async () => {
    const s = await server('user-password', { verifyClients: true });
    expect(s.serviceEnv['MESH_NATS_TLS_CERT_FILE']).toBeDefined();
    const bus = await connectWith(s.serviceEnv, 'mtls');
    buses.push(bus);
    expect(await roundTrip(bus)).toBe('over tls');
    const { MESH_NATS_TLS_CERT_FILE: _c, MESH_NATS_TLS_KEY_FILE: _k, ...noClientCert } = s.serviceEnv;
    await expect(connectWith(noClientCert, 'no-client-cert')).rejects.toThrow();
  });

  it('creds (operator mode): JetStream KV works for the account the JWT chain enables', async () => {
    const s = await server('creds', { jetstream: true });
    const bus = await connectWith(s.serviceEnv, 'creds-kv');
    buses.push(bus);
    const kv = await bus.kv('auth_check', { create: true });
    await kv.put('k', new TextEncoder().encode('v'));
    expect(new TextDecoder().decode((await kv.get('k'))?.value)).toBe('v');
  });

  it('a service process connects with a creds file over TLS, logs the method and never the secret', async () => {
    const s = await server('creds', { jetstream: true });
    let registry: ServiceProcess | undefined;
    try {
      registry = await startService('registry', { ...s.serviceEnv, MESH_REGISTRY_SETTLE_MS: '200' });
      const output = registry.output();
      expect(output).toMatch(/"auth":"creds".*"msg":"connecting to NATS"|"msg":"connecting to NATS".*"auth":"creds"/);
      for (const secret of secretsOf(s)) expect(output).not.toContain(secret);
    } finally {
      await registry?.kill();
    }
  });
});

describe('NATS connection settings from the environment', () => {
  const problems = (vars: Record<string, string>): string[] => {
    try {
      configFrom(vars);
    } catch (err) {
      if (err instanceof ConfigError) return [...err.problems];
      throw err;
    }
    return [];
  };
  const url = 'tls://127.0.0.1:4222';
  const file = new URL(import.meta.url).pathname; // any readable file

  it('maps each method and TLS onto createBus settings, secrets as files', () => {
    expect(configFrom({ MESH_NATS_URL: url, MESH_NATS_CREDS_FILE: file }).nats).toEqual({ auth: { method: 'creds', credsFile: file }, tls: undefined });
    expect(configFrom({ MESH_NATS_URL: url, MESH_NATS_USER: 'u', MESH_NATS_PASSWORD: 'p' }).nats?.auth).toEqual({ method: 'user-password', user: 'u', password: { value: 'p' } });
    expect(configFrom({ MESH_NATS_URL: url, MESH_NATS_TOKEN_FILE: file, MESH_NATS_TLS_CA_FILE: file }).nats).toEqual({
      auth: { method: 'token', token: { file } },
      tls: { caFile: file, certFile: undefined, keyFile: undefined },
    });
    expect(configFrom({ MESH_NATS_URL: url, MESH_NATS_NKEY_SEED_FILE: file }).nats?.auth).toEqual({ method: 'nkey', seedFile: file });
    expect(configFrom({ MESH_NATS_URL: 'nats://127.0.0.1:4222' }).nats).toEqual({ auth: undefined, tls: undefined });
  });

  it('bad combinations are ConfigErrors naming the variable, without quoting a secret', () => {
    expect(problems({ MESH_NATS_URL: url, MESH_NATS_TOKEN: 'tok-secret', MESH_NATS_CREDS_FILE: file })).toEqual([
      expect.stringMatching(/^MESH_NATS_CREDS_FILE: one NATS authentication method at a time, but MESH_NATS_TOKEN and MESH_NATS_CREDS_FILE are set/),
    ]);
    expect(problems({ MESH_NATS_URL: url, MESH_NATS_USER: 'u' })).toEqual([expect.stringMatching(/^MESH_NATS_USER: needs MESH_NATS_PASSWORD_FILE/)]);
    expect(problems({ MESH_NATS_URL: url, MESH_NATS_PASSWORD: 'pw-secret' })).toEqual([expect.stringMatching(/^MESH_NATS_PASSWORD: needs MESH_NATS_USER/)]);
    expect(problems({ MESH_NATS_URL: url, MESH_NATS_TOKEN: 'tok-secret', MESH_NATS_TOKEN_FILE: file })).toEqual([expect.stringMatching(/^MESH_NATS_TOKEN_FILE: set together with MESH_NATS_TOKEN/)]);
    expect(problems({ MESH_NATS_URL: url, MESH_NATS_CREDS_FILE: '/nonexistent/nats.creds' })).toEqual([expect.stringMatching(/^MESH_NATS_CREDS_FILE: cannot read \/nonexistent\/nats.creds \(ENOENT\)/)]);
    expect(problems({ MESH_NATS_URL: url, MESH_NATS_TLS_CERT_FILE: file })).toEqual([expect.stringMatching(/^MESH_NATS_TLS_CERT_FILE: needs MESH_NATS_TLS_KEY_FILE/)]);
    expect(problems({ MESH_NATS_URL: `${url},nats://127.0.0.1:4223` })).toEqual([expect.stringMatching(/^MESH_NATS_URL: mixes tls:\/\//)]);
    expect(problems({ MESH_NATS_URL: 'nats://u:pw-secret@127.0.0.1:4222' })).toEqual([expect.stringMatching(/^MESH_NATS_URL: carries credentials/)]);
    expect(problems({ MESH_NATS_CREDS_FILE: file })).toEqual([expect.stringMatching(/^MESH_NATS_CREDS_FILE: set, but MESH_NATS_URL is not/)]);
    const all = [
      ...problems({ MESH_NATS_URL: url, MESH_NATS_TOKEN: 'tok-secret', MESH_NATS_CREDS_FILE: file }),
      ...problems({ MESH_NATS_URL: url, MESH_NATS_PASSWORD: 'pw-secret' }),
      ...problems({ MESH_NATS_URL: 'nats://u:pw-secret@127.0.0.1:4222' }),
    ].join('\n');
    expect(all).not.toMatch(/tok-secret|pw-secret/);
  });

  it('a service started with a bad combination exits with the ConfigError naming the variable', async () => {
    const registry = await startService('registry', { MESH_NATS_URL: url, MESH_NATS_USER: 'mesh', MESH_NATS_TOKEN: 'tok-secret' }, { waitReady: false });
    const code = await registry.exited;
    expect(code).toBe(2);
    expect(registry.output()).toMatch(/MESH_NATS_USER: needs MESH_NATS_PASSWORD_FILE or MESH_NATS_PASSWORD/);
    expect(registry.output()).not.toContain('tok-secret');
    await waitFor(() => registry.child.exitCode !== null);
  });
});
