// A private Redis Cluster for the tests and benches: 3 masters and 3 replicas on localhost, each a
// redis-server this process owns (see startRedis), joined by `redis-cli --cluster create`.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RedisProcess, redisCli, startRedis, waitFor } from './harness.js';

const run = promisify(execFile);

export interface RedisCluster {
  readonly nodes: readonly RedisProcess[];
  /** REDIS_CLUSTER_NODES for the service: every node, as seeds. */
  readonly seeds: string;
  /** `redis-cli -p port ...args`, its stdout. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The ports of the masters now, by `CLUSTER NODES` as a live node sees it. */
  masters(): Promise<number[]>;
  /** Port of the master owning `slot`, by `CLUSTER SLOTS` as a live node sees it. */
  ownerOf(slot: number): Promise<number>;
  /** Resolves once every live node says cluster_state:ok and agrees on `masterCount` masters that answer. */
  waitHealthy(masterCount?: number, timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the cluster's files. */
  stop(): Promise<void>;
}

const NODE_TIMEOUT_MS = 1_000;

/** Whether `port` can be bound on 127.0.0.1 right now. */
async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  // Not events.once(server, 'listening'): it rejects on 'error', and a port in use must be a false, not a throw.
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) {
    server.close();
    await once(server, 'close');
  }
  return ok;
}

/** A free port P whose cluster bus port P + 10000 is free too (so P <= 55535); not one of `taken`. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if ((await bindable(port)) && (await bindable(port + 10_000))) return port;
  }
  throw new Error('no free port pair (P, P + 10000) for a cluster node');
}

/**
 * Starts a 3-master, 3-replica cluster with a 1 s node timeout (a failover takes a few seconds) and
 * `cluster-require-full-coverage no` (a dead master's slots fail, the others keep serving: right for a cache).
 */
export async function startRedisCluster(bin = 'redis-server'): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port);
    ports.push(port);
  }
  const nodes: RedisProcess[] = [];
  const cli = redisCli;
  const live = (): RedisProcess[] => nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  const cluster: RedisCluster = {
    nodes,
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    cli,
    async masters() {
      const lines = (await cli(live()[0].port, 'cluster', 'nodes')).trim().split('\n');
      return lines
        .map((line) => line.split(' '))
        .filter((f) => f[2].includes('master') && !f[2].includes('fail'))
        .map((f) => Number(/:(\d+)@/.exec(f[1])?.[1]));
    },
    async ownerOf(slot) {
      const out = (await cli(live()[0].port, '--json', 'cluster', 'slots')).trim();
      const ranges = JSON.parse(out) as [number, number, [string, number, string], ...unknown[]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`slot ${slot} is not served`);
      return range[2][1];
    },
    async waitHealthy(masterCount = 3, timeoutMs = 30_000) {
      await waitFor(
        async () => {
          for (const node of live()) {
            const info = await cli(node.port, 'cluster', 'info').catch(() => '');
            if (!/cluster_state:ok/.test(info)) return false;
          }
          return (await cluster.masters().catch(() => [])).length === masterCount;
        },
        timeoutMs,
        `cluster_state:ok on every node with ${masterCount} masters`,
      );
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const port of ports) {
      nodes.push(
        await startRedis(bin, {
          port,
          extraArgs: [
            ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)],
            ...['--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--cluster-require-full-coverage', 'no', '--dir', dir],
          ],
        }),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 60_000,
    });
    await cluster.waitHealthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
