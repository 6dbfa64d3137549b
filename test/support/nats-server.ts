/**
 * Test fixture: real nats-server processes on random loopback ports, single or clustered.
 *
 * Same approach as nats.js's test launcher: write a config with `port: -1` and a
 * `ports_file_dir`, spawn `nats-server -c`, and consider it up only when the ports file appeared
 * AND a TCP connect succeeded; clusters are ready when every node's monitoring endpoint shows its
 * routes to all others and, with JetStream, every node agrees on one meta leader. Readiness is
 * always observed, never slept for. Every process and temp dir is removed on stop() and, as a last
 * resort, when the test process exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLocalNatsServer, getJson, killOnExit, natsListening, natsServerBinary, removeOnExit, stopChild } from '@session-mesh/testkit';

// Binary resolution, the ports file, the TCP probe and the cleanup at exit are the shared kit's (libs/testkit).
export { natsServerBinary };

export interface NatsServerOptions {
  /** Enable JetStream with a store in the server's temp dir. Default false. */
  readonly jetstream?: boolean;
  /** Per-connection subscription limit (nats-server `max_subs`). */
  readonly maxSubs?: number;
  /** server_name; default a unique one. */
  readonly name?: string;
  /** Extra config text appended verbatim. */
  readonly extraConfig?: string;
  /** Default 20 s. */
  readonly startTimeoutMs?: number;
  /** @internal used by clusters */
  readonly cluster?: { readonly name: string; readonly port: number; readonly routes: readonly string[]; readonly noAdvertise?: boolean };
}

export interface NatsServerHandle {
  readonly name: string;
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly monitorUrl: string;
  /** e.g. "2.15.2" */
  readonly version: string;
  readonly pid: number | undefined;
  /** SIGTERM, wait for exit, remove the temp dir. */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit, remove the temp dir. */
  kill(): Promise<void>;
  /** SIGKILL, then start again on the same ports with the same store (for reconnect tests). */
  restart(): Promise<void>;
}

export interface NatsClusterOptions {
  readonly size?: number;
  readonly jetstream?: boolean;
  readonly maxSubs?: number;
  /** Default 30 s. */
  readonly startTimeoutMs?: number;
  /**
   * Do not tell clients about the other nodes (`no_advertise`): clients then reach only the URLs
   * they were given, so a TCP proxy in front of a node can partition them (fault tests).
   */
  readonly noAdvertise?: boolean;
}

export interface NatsClusterHandle {
  readonly servers: readonly NatsServerHandle[];
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

const versions = new Map<string, string>();
function binaryVersion(bin: string): string {
  let v = versions.get(bin);
  if (v === undefined) {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    v = /v?(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? 'unknown';
    versions.set(bin, v);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A free port, held by a listening socket until release(). Route ports must be known before the
 * servers start; holding them keeps the other servers' random (`-1`) ports off them meanwhile.
 */
export function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  return new Promise((resolvePort, reject) => {
    // Servers already up dial their routes here: refuse them at once (they retry), or close()
    // would wait for those connections forever.
    const srv = createServer((socket) => socket.destroy());
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      let released: Promise<void> | undefined;
      const release = (): Promise<void> => (released ??= new Promise((r) => srv.close(() => r())));
      resolvePort({ port, release });
    });
  });
}

function quote(s: string): string {
  return JSON.stringify(s);
}

let serverSeq = 0;

// ---------------------------------------------------------------------------------------------
// One server

interface Ports {
  client: number;
  monitor: number;
}

class LocalServer implements NatsServerHandle {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderrTail = '';
  private ports: Ports | undefined;
  private stopped = false;
  /** Forgets the temp dir in the at-exit cleanup (once removeDir() has removed it). */
  private readonly forgetDir: () => void;
  readonly version: string;

  constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly name: string,
    private readonly opts: NatsServerOptions,
  ) {
    this.forgetDir = removeOnExit(dir);
    this.version = binaryVersion(bin);
  }

  get port(): number {
    return this.requirePorts().client;
  }
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.requirePorts().monitor}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  /** Last lines the server wrote (it logs to stderr). */
  get log(): string {
    return this.stderrTail;
  }

  private requirePorts(): Ports {
    if (this.ports === undefined) throw new Error(`nats-server ${this.name} has not started`);
    return this.ports;
  }

  private config(fixed: Ports | undefined): string {
    const o = this.opts;
    const lines = [
      `server_name: ${quote(this.name)}`,
      `host: "127.0.0.1"`,
      `port: ${fixed?.client ?? -1}`,
      `http_port: ${fixed?.monitor ?? -1}`,
      `ports_file_dir: ${quote(this.dir)}`,
    ];
    if (o.jetstream) lines.push(`jetstream { store_dir: ${quote(join(this.dir, 'js'))} }`);
    if (o.maxSubs !== undefined) lines.push(`max_subs: ${o.maxSubs}`);
    if (o.cluster !== undefined) {
      const routes = o.cluster.routes.map(quote).join(', ');
      const advertise = o.cluster.noAdvertise === true ? ', no_advertise: true' : '';
      lines.push(`cluster { name: ${quote(o.cluster.name)}, listen: "127.0.0.1:${o.cluster.port}", routes: [${routes}]${advertise} }`);
    }
    if (o.extraConfig) lines.push(o.extraConfig);
    return `${lines.join('\n')}\n`;
  }

  async start(fixed?: Ports): Promise<void> {
    const conf = join(this.dir, 'server.conf');
    writeFileSync(conf, this.config(fixed));
    for (const f of readdirSync(this.dir)) if (f.endsWith('.ports')) rmSync(join(this.dir, f), { force: true });
    this.stderrTail = '';
    const child = spawn(this.bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    killOnExit(child);
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((r) => {
      child.once('exit', (code, signal) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        r();
      });
      child.once('error', (err) => {
        exitInfo = `failed to spawn: ${err.message}`;
        r();
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-8192);
    });

    try {
      const ports = await natsListening(this.dir, child.pid, { timeoutMs: this.opts.startTimeoutMs ?? 20_000, monitor: true, exited: () => exitInfo });
      this.ports = { client: ports.client, monitor: ports.monitor as number };
    } catch (err) {
      await this.kill();
      throw new Error(`nats-server ${this.name} did not start: ${(err as Error).message}\n--- server output ---\n${this.stderrTail}`);
    }
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    if (this.child !== undefined) await stopChild(this.child, this.exited, sig);
  }

  private async removeDir(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await rm(this.dir, { recursive: true, force: true });
    this.forgetDir();
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
    await this.removeDir();
  }

  async kill(): Promise<void> {
    await this.signal('SIGKILL');
    await this.removeDir();
  }

  async restart(): Promise<void> {
    const ports = this.requirePorts();
    await this.signal('SIGKILL');
    await this.start(ports);
  }
}

async function newServer(opts: NatsServerOptions): Promise<LocalServer> {
  const bin = natsServerBinary();
  const dir = await mkdtemp(join(tmpdir(), 'session-mesh-nats-'));
  const name = opts.name ?? `test-${process.pid}-${++serverSeq}`;
  return new LocalServer(bin, dir, name, opts);
}

/**
 * Starts one nats-server. With no local binary at all, a Docker engine and the `testcontainers`
 * package, a container is used instead (see startInContainer); otherwise the install script runs.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  if (findLocalNatsServer() === undefined && opts.cluster === undefined && opts.maxSubs === undefined && !opts.extraConfig) {
    const container = await startInContainer(opts);
    if (container !== undefined) return container;
  }
  const server = await newServer(opts);
  await server.start();
  return server;
}

// ---------------------------------------------------------------------------------------------
// Cluster

interface RoutezJson {
  routes?: { remote_id?: string; remote_name?: string }[];
}
interface JszJson {
  meta_cluster?: { leader?: string; cluster_size?: number };
}

/** A seed node and members routed to it; ready when all see each other and agree on a JetStream meta leader. */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  // A route port can still be taken by another process in the instant between its release and
  // the server's bind: that one failure is retried with fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !/address already in use/.test(err.message)) throw err;
    }
  }
}

async function startClusterOnce(opts: NatsClusterOptions): Promise<NatsClusterHandle> {
  const size = opts.size ?? 3;
  const jetstream = opts.jetstream ?? true;
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const clusterName = `mesh-test-${process.pid}-${++serverSeq}`;
  const reservations = await Promise.all(Array.from({ length: size }, () => reservePort()));
  const routePorts = reservations.map((r) => r.port);
  const routeUrl = (port: number | undefined): string => `nats-route://127.0.0.1:${port}`;
  const servers: LocalServer[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    // One at a time: each node's own random ports are taken while the later nodes' route ports
    // are still held.
    for (let i = 0; i < size; i++) {
      const server = await newServer({
        jetstream,
        ...(opts.maxSubs === undefined ? {} : { maxSubs: opts.maxSubs }),
        name: `${clusterName}-n${i + 1}`,
        startTimeoutMs: timeoutMs,
        // Members route to the seed. The seed lists the members too: a JetStream cluster refuses
        // to start on a node without configured routes.
        cluster: {
          name: clusterName,
          port: routePorts[i] as number,
          routes: i === 0 ? routePorts.slice(1).map(routeUrl) : [routeUrl(routePorts[0])],
          ...(opts.noAdvertise === true ? { noAdvertise: true } : {}),
        },
      });
      servers.push(server);
      await reservations[i]?.release();
      await server.start();
    }

    const deadline = Date.now() + timeoutMs;
    let lastState = '';
    for (;;) {
      try {
        const routed = await Promise.all(
          servers.map(async (s) => {
            const r = (await getJson(`${s.monitorUrl}/routez`, 2000)) as RoutezJson;
            // Since 2.10 routes are pooled (several per peer): count distinct peers.
            return new Set((r.routes ?? []).map((x) => x.remote_id ?? x.remote_name)).size;
          }),
        );
        let leaders: (string | undefined)[] = [];
        if (jetstream) {
          leaders = await Promise.all(
            servers.map(async (s) => ((await getJson(`${s.monitorUrl}/jsz`, 2000)) as JszJson).meta_cluster?.leader),
          );
        }
        lastState = `peers seen ${JSON.stringify(routed)}, meta leaders ${JSON.stringify(leaders)}`;
        const routesOk = routed.every((n) => n === size - 1);
        const leaderOk = !jetstream || (leaders[0] !== undefined && leaders[0] !== '' && leaders.every((l) => l === leaders[0]));
        if (routesOk && leaderOk) break;
      } catch (err) {
        lastState = String(err);
      }
      if (Date.now() > deadline) {
        const logs = servers.map((s) => `--- ${s.name} ---\n${s.log}`).join('\n');
        throw new Error(`NATS cluster not ready after ${timeoutMs} ms (${lastState})\n${logs}`);
      }
      await sleep(50);
    }
  } catch (err) {
    await Promise.all(reservations.map((r) => r.release().catch(() => undefined)));
    await stopAll();
    throw err;
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    stop: stopAll,
  };
}

// ---------------------------------------------------------------------------------------------
// Containers (CANNOT be exercised on the project's machines: they have a docker client but no
// engine). Used only by startNatsServer for a plain single server, and only when no local binary
// exists, a Docker engine answers /_ping and `testcontainers` (11.x; 12 needs Node 22) imports.

function dockerEngineAnswers(): Promise<boolean> {
  return new Promise((r) => {
    const socket = createConnection({ path: '/var/run/docker.sock' });
    let body = '';
    socket.setTimeout(1000, () => {
      socket.destroy();
      r(false);
    });
    socket.once('error', () => r(false));
    socket.once('connect', () => socket.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n'));
    socket.on('data', (d) => {
      body += d.toString();
    });
    socket.once('end', () => r(/\r\n\r\nOK$/.test(body)));
  });
}

async function startInContainer(opts: NatsServerOptions): Promise<NatsServerHandle | undefined> {
  if (!existsSync('/var/run/docker.sock') || !(await dockerEngineAnswers())) return undefined;
  // The slice of the testcontainers API used here (the package is not a dependency).
  type Started = { getHost(): string; getMappedPort(p: number): number; stop(): Promise<unknown> };
  type Builder = {
    withCommand(cmd: string[]): Builder;
    withExposedPorts(...p: number[]): Builder;
    start(): Promise<Started>;
  };
  let tc: { GenericContainer: new (image: string) => Builder };
  try {
    const moduleName = 'testcontainers';
    tc = (await import(moduleName)) as typeof tc;
  } catch {
    return undefined;
  }
  const started = await new tc.GenericContainer('nats:2.15.2')
    .withCommand(['-m', '8222', ...(opts.jetstream ? ['-js'] : [])])
    .withExposedPorts(4222, 8222)
    .start();
  const host = started.getHost();
  const port = started.getMappedPort(4222);
  const stop = async (): Promise<void> => {
    await started.stop();
  };
  return {
    name: opts.name ?? 'container',
    url: `nats://${host}:${port}`,
    port,
    monitorUrl: `http://${host}:${started.getMappedPort(8222)}`,
    version: '2.15.2',
    pid: undefined,
    stop,
    kill: stop,
    restart: () => Promise.reject(new Error('restart is not supported for container servers')),
  };
}
