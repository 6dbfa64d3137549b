// Processes and publishing for bench/durable.mjs: a nats-server started from a config file (so the
// JetStream `sync_interval` can be set), and a publisher that keeps a window of JetStream
// acknowledgements outstanding.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, until } from './services.mjs';

/**
 * nats-server with JetStream on random loopback ports. syncInterval: undefined leaves nats-server's
 * default (fsync every 2 minutes), 'always' fsyncs every write before acknowledging it.
 * Returns the server's own view of its JetStream settings (from /varz) beside url and monitor.
 */
export async function startNatsJs(procs, { bin, dir, name = 'nats', syncInterval }) {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, `${name}.conf`);
  const storeDir = join(dir, 'js');
  writeFileSync(conf, `jetstream { store_dir: ${JSON.stringify(storeDir)}${syncInterval ? `, sync_interval: ${syncInterval}` : ''} }\n`);
  const [port, httpPort] = [await freePort(), await freePort()];
  const proc = procs.start(name, bin, ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort)]);
  const monitor = `http://127.0.0.1:${httpPort}`;
  await until(async () => ((await getJson(`${monitor}/healthz?js-enabled-only=true`)).status === 'ok' ? true : undefined), {
    timeoutMs: 15000,
    what: `${name} /healthz ok`,
    proc,
  });
  const varz = await getJson(`${monitor}/varz`);
  const js = varz.jetstream?.config ?? {};
  return {
    proc,
    url: `nats://127.0.0.1:${port}`,
    monitor,
    version: varz.version,
    jetstream: { syncIntervalS: (js.sync_interval ?? 0) / 1e9, syncAlways: js.sync_always === true, storeDir: js.store_dir, fsType: fsType(storeDir) },
  };
}

/** The file system under dir (fsync costs nothing on tmpfs), or undefined when findmnt is missing. */
function fsType(dir) {
  try {
    return execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', dir], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `job(i)` for i in [0, count) with at most `window` promises outstanding; resolves with the
 * results in index order. Any rejection stops new jobs and rejects.
 */
export async function windowed(count, window, job) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
  return results;
}

/** JetStream message count of a stream (through the monitor's /jsz). */
export async function streamMessages(monitor, stream) {
  const jsz = await getJson(`${monitor}/jsz?streams=true`);
  for (const acc of jsz.account_details ?? []) {
    for (const s of acc.stream_detail ?? []) if (s.name === stream) return s.state.messages;
  }
  return undefined;
}
