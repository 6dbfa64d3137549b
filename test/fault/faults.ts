/**
 * The faults of issue 9, each as inject-then-heal on a running Topology. `during` is called once
 * the fault is in effect (the run blacklists a session then). Durations come from `long` (the
 * full table) or the short CI form.
 */
import { streamLeaderNode, type Topology } from './topology.js';

export interface FaultContext {
  readonly topology: Topology;
  readonly long: boolean;
  during(): void;
}

export interface Fault {
  readonly name: string;
  /** Clients churn (close and come back) while the fault is in effect. */
  readonly churn?: boolean;
  inject(ctx: FaultContext): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Kills NATS node `i` (SIGKILL), keeps it down `downMs`, starts it again with its store. */
async function bounceNode(ctx: FaultContext, i: number, downMs: number): Promise<void> {
  const server = ctx.topology.nats.servers[i]!;
  if (server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
  ctx.during();
  await sleep(downMs);
  await server.restart();
  await ctx.topology.natsHealthy();
}

export const FAULTS: readonly Fault[] = [
  { name: 'nats node killed + restarted', inject: (ctx) => bounceNode(ctx, 0, ctx.long ? 5_000 : 2_000) },
  {
    name: 'node holding the KV stream leaders killed',
    inject: async (ctx) => {
      const node = (await streamLeaderNode(ctx.topology.nats, 'KV_mesh_blacklist')) ?? 0;
      await bounceNode(ctx, node, ctx.long ? 5_000 : 2_000);
    },
  },
  {
    name: 'rolling restart of all NATS nodes',
    inject: async (ctx) => {
      for (let i = 0; i < ctx.topology.nats.servers.length; i++) {
        const server = ctx.topology.nats.servers[i]!;
        if (server.pid !== undefined) process.kill(server.pid, 'SIGTERM');
        if (i === 1) ctx.during();
        await server.restart();
        await ctx.topology.natsHealthy();
      }
    },
  },
  ...[10_000, 20_000].map(
    (ms): Fault => ({
      name: `full NATS outage ${ms / 1000} s`,
      inject: async (ctx) => {
        const down = ctx.long ? ms : 3_000;
        for (const s of ctx.topology.nats.servers) if (s.pid !== undefined) process.kill(s.pid, 'SIGKILL');
        ctx.during();
        await sleep(down);
        await Promise.all(ctx.topology.nats.servers.map((s) => s.restart()));
        await ctx.topology.natsHealthy();
      },
    }),
  ),
  {
    name: 'registry leader killed under churn',
    churn: true,
    inject: async (ctx) => {
      const t = ctx.topology;
      const leader = await leaderIndex(t);
      await t.registries[leader]!.kill();
      ctx.during();
      await sleep(ctx.long ? 8_000 : 4_000);
      await t.startRegistry(leader);
    },
  },
  {
    name: 'both registry replicas killed under churn',
    churn: true,
    inject: async (ctx) => {
      const t = ctx.topology;
      await Promise.all(t.registries.map((r) => r.kill()));
      ctx.during();
      await sleep(ctx.long ? 5_000 : 2_000);
      await Promise.all([t.startRegistry(0), t.startRegistry(1)]);
    },
  },
  {
    name: 'edge SIGKILL (down 5 s)',
    inject: async (ctx) => {
      await ctx.topology.edges[0]!.kill();
      ctx.during();
      await sleep(ctx.long ? 5_000 : 2_000);
      await ctx.topology.startEdge(0);
    },
  },
  {
    name: 'edge restarted with the same id',
    inject: async (ctx) => {
      await ctx.topology.edges[1]!.kill();
      ctx.during();
      await ctx.topology.startEdge(1);
    },
  },
  {
    name: 'edge drained (SIGTERM)',
    inject: async (ctx) => {
      ctx.during();
      await ctx.topology.edges[0]!.stop();
      await ctx.topology.startEdge(0);
    },
  },
  {
    name: 'admin API restarted',
    inject: async (ctx) => {
      await ctx.topology.admin.kill();
      await ctx.topology.startAdmin();
      ctx.during();
    },
  },
  {
    name: 'NATS node frozen 15 s (SIGSTOP)',
    inject: async (ctx) => {
      const server = ctx.topology.nats.servers[0]!;
      ctx.topology.freeze(server);
      ctx.during();
      await sleep(ctx.long ? 15_000 : 3_000);
      ctx.topology.thaw(server);
      await ctx.topology.natsHealthy();
    },
  },
  {
    name: 'edge frozen 5 s (SIGSTOP)',
    inject: async (ctx) => {
      const edge = ctx.topology.edges[1]!;
      ctx.topology.freeze(edge);
      ctx.during();
      await sleep(ctx.long ? 5_000 : 1_000);
      ctx.topology.thaw(edge);
    },
  },
  {
    name: 'edge partitioned from NATS (proxy)',
    inject: async (ctx) => {
      const proxies = ctx.topology.proxiesOf('edge-0');
      // The full table drops packets silently (only pings notice); CI cuts the connections.
      for (const p of proxies) {
        if (ctx.long) p.blackhole();
        else p.cut();
      }
      ctx.during();
      await sleep(ctx.long ? 8_000 : 2_000);
      for (const p of proxies) p.heal();
    },
  },
  {
    name: 'registry replica partitioned from NATS (proxy)',
    inject: async (ctx) => {
      const proxies = ctx.topology.proxiesOf('registry-0');
      for (const p of proxies) p.cut();
      ctx.during();
      await sleep(ctx.long ? 8_000 : 3_000);
      for (const p of proxies) p.heal();
    },
  },
];

/** Which registry replica holds the leader lease (the `leader` key of the registry's bucket). */
async function leaderIndex(t: Topology): Promise<number> {
  try {
    const kv = await t.observer.kv('mesh_registry', { create: false });
    const entry = await kv.get('leader');
    const holder = entry?.value === undefined ? '' : (JSON.parse(new TextDecoder().decode(entry.value)) as { holder?: string }).holder ?? '';
    const match = /^registry-(\d+)\//.exec(holder);
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}
