import type { EventEmitter } from 'node:events';
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { allSucceeded, CONNECTION_OPTIONS, type RedisTransport, reconnectDelay } from './redis-transport.js';

export interface RedisClusterOptions {
  readonly seeds: readonly { readonly host: string; readonly port: number }[];
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

/**
 * A Redis Cluster. Keys keep no hash tag, so they spread over every master (memory and CPU scale out); a
 * request's keys are grouped by the node that owns their slot, per the cluster's slot map, and each node gets
 * one pipeline (an MGET per slot, as MGET must not cross slots): one round trip per node touched, in
 * parallel. MOVED/ASK and failovers are ioredis's (it follows redirections and refreshes the slot map); what
 * fails in the meantime comes back as undefined, which the tier serves as misses.
 */
export class RedisCluster implements RedisTransport {
  private readonly cluster: Cluster;

  constructor(options: RedisClusterOptions) {
    this.cluster = new Cluster(
      options.seeds.map(({ host, port }) => ({ host, port })),
      {
        // While the cluster is not ready a command fails at once instead of queueing.
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelay,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        // A redirection followed once or twice is a resharding; more is a cluster in trouble: a miss.
        maxRedirections: 3,
        slotsRefreshTimeout: 1_000,
        redisOptions: {
          ...CONNECTION_OPTIONS,
          username: options.username,
          password: options.password,
          ...(options.tls && { tls: {} }),
        },
      },
    );
  }

  get events(): EventEmitter {
    return this.cluster;
  }

  get ready(): boolean {
    return this.cluster.status === 'ready';
  }

  async mget(keys: readonly string[]): Promise<(string | null | undefined)[]> {
    const values: (string | null | undefined)[] = new Array(keys.length).fill(undefined);
    await Promise.all(
      this.byNode(keys).map(async (bySlot) => {
        const pipeline = this.cluster.pipeline();
        for (const indexes of bySlot.values()) pipeline.mget(...indexes.map((i) => keys[i]));
        const results = await pipeline.exec().catch(() => null);
        if (results === null) return;
        [...bySlot.values()].forEach((indexes, k) => {
          const [err, found] = results[k];
          if (err === null) indexes.forEach((keyIndex, j) => (values[keyIndex] = (found as (string | null)[])[j]));
        });
      }),
    );
    return values;
  }

  async setEx(keys: readonly string[], values: readonly string[], ttlSeconds: number): Promise<boolean> {
    const landed = await Promise.all(
      this.byNode(keys).map(async (bySlot) => {
        const pipeline = this.cluster.pipeline();
        for (const indexes of bySlot.values()) for (const i of indexes) pipeline.set(keys[i], values[i], 'EX', ttlSeconds);
        return allSucceeded(await pipeline.exec().catch(() => null));
      }),
    );
    return landed.every(Boolean);
  }

  async close(): Promise<void> {
    await this.cluster.quit().catch(() => this.cluster.disconnect());
  }

  /**
   * Key indexes by node, then by slot. A node is the slot's entry in ioredis's slot map (master and replicas),
   * which is how ioredis itself checks that a pipeline goes to one node; a slot it does not know yet goes
   * with the others of its kind, and the first reply's MOVED teaches the map.
   */
  private byNode(keys: readonly string[]): Map<number, number[]>[] {
    const nodes = new Map<string, Map<number, number[]>>();
    keys.forEach((key, i) => {
      const slot = calculateSlot(key);
      const node = this.cluster.slots[slot]?.join(';') ?? '';
      let bySlot = nodes.get(node);
      if (bySlot === undefined) nodes.set(node, (bySlot = new Map()));
      const indexes = bySlot.get(slot);
      if (indexes === undefined) bySlot.set(slot, [i]);
      else indexes.push(i);
    });
    return [...nodes.values()];
  }
}
