/**
 * Test fixture: one nats-server with TLS and authentication, made by the test: certificates from
 * `openssl` (a CA, a server certificate for 127.0.0.1 and a client certificate for mutual TLS),
 * and one auth method per server (user/password, token, nkey, or a creds file in operator mode
 * with an operator -> account -> user JWT chain signed by @nats-io/jwt, as `nsc` would make it).
 *
 * Unlike test/support/nats-server.ts (whose restart() is immediate), stop() and start() are
 * separate so a test can hold an outage open: the server comes back on the same port with the same
 * JetStream store. Readiness is observed the same way: the ports file, then a TCP connect.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { killOnExit, natsListening, natsServerBinary, stopChild, waitFor } from '@session-mesh/testkit';

export type NatsAuthMethod = 'user-password' | 'token' | 'nkey' | 'creds';

export interface NatsTlsServerOptions {
  readonly auth: NatsAuthMethod;
  /** Require a client certificate signed by the test CA (mutual TLS). Default false. */
  readonly verifyClients?: boolean;
  readonly jetstream?: boolean;
  /** Default 20 s. */
  readonly startTimeoutMs?: number;
}

/** Files written by the fixture, for services and buses to read. */
export interface NatsTlsFiles {
  readonly caFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

export interface NatsTlsServer {
  /** tls://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly files: NatsTlsFiles;
  /** The MESH_NATS_* variables a service needs to connect (URL, credentials as files, CA, client cert). */
  readonly serviceEnv: Record<string, string>;
  /** A second set of credentials the server does not accept (same method, wrong secret). */
  readonly wrongCredentialFile: string;
  readonly pid: number | undefined;
  /** SIGTERM and wait for exit; the store and port stay for start(). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; the store and port stay for start(). */
  kill(): Promise<void>;
  /** Starts again on the same port with the same store. */
  start(): Promise<void>;
  /** Replaces the server's auth block (nats-server config syntax) and reloads it (SIGHUP). */
  reloadAuth(authConfig: string): Promise<void>;
  /** Stops the server and removes every file. */
  dispose(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed (Debian: apt-get install -y openssl); the NATS TLS tests make their certificates with it');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all EC P-256. */
function makeCertificates(dir: string): NatsTlsFiles & { serverCert: string; serverKey: string } {
  const key = (name: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name], dir);
  key('ca.key');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=session-mesh test CA', '-days', '2', '-out', 'ca.pem'], dir);
  const leaf = (name: string, subject: string, ext: string) => {
    key(`${name}.key`);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  };
  leaf('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', '/CN=session-mesh test client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
  };
}

const quote = (s: string): string => JSON.stringify(s);

interface AuthSetup {
  readonly config: string;
  readonly env: Record<string, string>;
  readonly wrongFile: string;
}

async function makeAuth(method: NatsAuthMethod, dir: string, jetstream: boolean): Promise<AuthSetup> {
  const write = (name: string, content: string | Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  switch (method) {
    case 'user-password':
      return {
        config: `authorization { user: "mesh", password: ${quote('s3cret-password')} }`,
        env: { MESH_NATS_USER: 'mesh', MESH_NATS_PASSWORD_FILE: write('password', 's3cret-password\n') },
        wrongFile: write('wrong-password', 'not-the-password\n'),
      };
    case 'token':
      return {
        config: `authorization { token: ${quote('s3cret-token')} }`,
        env: { MESH_NATS_TOKEN_FILE: write('token', 's3cret-token\n') },
        wrongFile: write('wrong-token', 'not-the-token\n'),
      };
    case 'nkey': {
      const user = createUser();
      const other = createUser();
      return {
        config: `authorization { users: [ { nkey: ${quote(user.getPublicKey())} } ] }`,
        env: { MESH_NATS_NKEY_SEED_FILE: write('user.nk', user.getSeed()) },
        wrongFile: write('wrong.nk', other.getSeed()),
      };
    }
    case 'creds': {
      // The chain nsc would make: operator signs the account, the account signs the user.
      // JetStream in operator mode needs a system account.
      const operator = createOperator();
      const system = createAccount();
      const account = createAccount();
      const user = createUser();
      const operatorJwt = await encodeOperator('mesh-test-operator', operator, { system_account: system.getPublicKey() });
      const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
      const accountJwt = await encodeAccount(
        'MESH',
        account,
        {
          // Unlimited, as nsc makes them (the library's defaults allow no connection at all).
          limits: {
            conn: -1, subs: -1, data: -1, payload: -1, imports: -1, exports: -1, leaf: -1, wildcards: true,
            ...(jetstream ? { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } : {}),
          },
        },
        { signer: operator },
      );
      const userJwt = await encodeUser('mesh-service', user, account);
      // A user signed by an account the server does not know.
      const strangerAccount = createAccount();
      const stranger = createUser();
      const strangerJwt = await encodeUser('stranger', stranger, strangerAccount);
      return {
        config: [
          `operator: ${quote(write('operator.jwt', operatorJwt))}`,
          'resolver: MEMORY',
          `system_account: ${system.getPublicKey()}`,
          `resolver_preload: { ${account.getPublicKey()}: ${quote(accountJwt)}, ${system.getPublicKey()}: ${quote(systemJwt)} }`,
        ].join('\n'),
        env: { MESH_NATS_CREDS_FILE: write('mesh.creds', fmtCreds(userJwt, user)) },
        wrongFile: write('stranger.creds', fmtCreds(strangerJwt, stranger)),
      };
    }
  }
}

export async function startNatsTlsServer(opts: NatsTlsServerOptions): Promise<NatsTlsServer> {
  const bin = natsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'session-mesh-nats-tls-'));
  const certs = makeCertificates(dir);
  const auth = await makeAuth(opts.auth, dir, opts.jetstream ?? false);
  let port: number | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  let stderr = '';
  let authConfig = auth.config;
  let reloads = 0;

  const configText = (): string =>
    [
      `server_name: ${quote(`tls-${opts.auth}-${process.pid}`)}`,
      'host: "127.0.0.1"',
      `port: ${port ?? -1}`,
      `ports_file_dir: ${quote(dir)}`,
      `tls { cert_file: ${quote(certs.serverCert)}, key_file: ${quote(certs.serverKey)}, ca_file: ${quote(certs.caFile)}, verify: ${opts.verifyClients === true}, timeout: 2 }`,
      authConfig,
      opts.jetstream ? `jetstream { store_dir: ${quote(join(dir, 'js'))} }` : '',
      '',
    ].join('\n');

  const start = async (): Promise<void> => {
    const conf = join(dir, 'server.conf');
    writeFileSync(conf, configText());
    for (const f of readdirSync(dir)) if (f.endsWith('.ports')) rmSync(join(dir, f), { force: true });
    stderr = '';
    const c = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    killOnExit(c);
    let exitInfo: string | undefined;
    exited = once(c, 'exit').then(([code, signal]) => {
      exitInfo = `exited with ${String(signal ?? `code ${String(code)}`)}`;
    });
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8192);
      reloads += chunk.split('Reloaded server configuration').length - 1;
    });
    try {
      // On a restart the port is known already: the new process writes it again once it listens.
      port = (await natsListening(dir, c.pid, { timeoutMs: opts.startTimeoutMs ?? 20_000, exited: () => exitInfo })).client;
    } catch (err) {
      c.kill('SIGKILL');
      await exited;
      throw new Error(`nats-server (TLS, ${opts.auth}) did not start: ${(err as Error).message}\n--- server output ---\n${stderr}`);
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child !== undefined) await stopChild(child, exited, sig);
  };

  const waitForLog = async (seen: () => boolean, what: string): Promise<void> => {
    await waitFor(seen, {
      timeoutMs: 10_000,
      intervalMs: 20,
      timeoutError: () => new Error(`nats-server: timed out waiting for ${what}\n--- server output ---\n${stderr}`),
    });
  };

  await start();
  const url = `tls://127.0.0.1:${port}`;
  const files: NatsTlsFiles = { caFile: certs.caFile, clientCertFile: certs.clientCertFile, clientKeyFile: certs.clientKeyFile };
  return {
    url,
    port: port as number,
    files,
    serviceEnv: {
      MESH_NATS_URL: url,
      MESH_NATS_TLS_CA_FILE: certs.caFile,
      ...(opts.verifyClients === true ? { MESH_NATS_TLS_CERT_FILE: certs.clientCertFile, MESH_NATS_TLS_KEY_FILE: certs.clientKeyFile } : {}),
      ...auth.env,
    },
    wrongCredentialFile: auth.wrongFile,
    get pid() {
      return child?.pid;
    },
    reloadAuth: async (config: string) => {
      authConfig = config;
      writeFileSync(join(dir, 'server.conf'), configText());
      const before = reloads;
      child?.kill('SIGHUP');
      await waitForLog(() => reloads > before, 'the configuration reload');
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
    dispose: async () => {
      await signal('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
