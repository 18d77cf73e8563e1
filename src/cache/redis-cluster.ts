import type { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { keySlot } from './key-slot.js';
import { allSucceeded, CONNECTION_OPTIONS, type RedisTransport, reconnectDelay, UnansweredReads } from './redis-transport.js';

export interface RedisClusterOptions {
  readonly seeds: readonly { readonly host: string; readonly port: number }[];
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
}

/**
 * A Redis Cluster. Keys keep no hash tag, so they spread over every master (memory and CPU scale out); a
 * request's keys are grouped by the master that owns their slot, per the cluster's slot map, and each master
 * gets one read command for all of its keys (READ_SCRIPT): one round trip per node touched, in parallel.
 * Writes go one ioredis pipeline per node, which follows MOVED/ASK. A read on a node that failed or no longer
 * owns a slot (failover, resharding) comes back as undefined, which the tier serves as misses, and refreshes
 * the slot map.
 */
export class RedisCluster implements RedisTransport {
  private readonly cluster: Cluster;
  private mastersByKey: Map<string, Redis> | undefined;
  private readonly reads = new UnansweredReads();

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
    // A node added or gone, or a new slot map (a failover promotes a replica without adding a node).
    const forget = (): void => {
      this.mastersByKey = undefined;
    };
    for (const event of ['+node', '-node', 'refresh']) this.cluster.on(event, forget);
  }

  get events(): EventEmitter {
    return this.cluster;
  }

  get ready(): boolean {
    return this.cluster.status === 'ready';
  }

  get usesSlots(): boolean {
    return true;
  }

  get unansweredSince(): number | undefined {
    return this.reads.since;
  }

  mget(keys: readonly string[], slots?: readonly number[]): Promise<(string | null | undefined)[]> {
    return this.reads.track(this.readAll(keys, slots));
  }

  /** One read per master holding some of the keys, sent together; a failed node's keys are undefined. */
  private async readAll(keys: readonly string[], slots?: readonly number[]): Promise<(string | null | undefined)[]> {
    const values: (string | null | undefined)[] = new Array(keys.length).fill(undefined);
    const masters = this.masters();
    let stale = false;
    await Promise.all(
      [...this.byNode(keys, slots)].map(async ([nodeKey, indexes]) => {
        const node = masters.get(nodeKey);
        const found = node
          ? await readOnNode(
              node,
              indexes.map((i) => keys[i]),
            ).catch(() => undefined)
          : undefined;
        if (found === undefined) stale = true;
        else indexes.forEach((keyIndex, j) => (values[keyIndex] = found[j]));
      }),
    );
    // A node that failed or no longer owns a slot (failover, resharding): its keys were misses; learn the new
    // slot map for the next requests.
    if (stale) this.cluster.refreshSlotsCache();
    return values;
  }

  async setEx(keys: readonly string[], values: readonly string[], ttlSeconds: number, slots?: readonly number[]): Promise<boolean> {
    const landed = await Promise.all(
      [...this.byNode(keys, slots).values()].map(async (indexes) => {
        const pipeline = this.cluster.pipeline();
        for (const i of indexes) pipeline.set(keys[i], values[i], 'EX', ttlSeconds);
        return allSucceeded(await pipeline.exec().catch(() => null));
      }),
    );
    return landed.every(Boolean);
  }

  async close(): Promise<void> {
    await this.cluster.quit().catch(() => this.cluster.disconnect());
  }

  /** The master connections by `host:port`, as the slot map names them; rebuilt when the node set changes. */
  private masters(): Map<string, Redis> {
    if (this.mastersByKey === undefined) {
      this.mastersByKey = new Map(this.cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    }
    return this.mastersByKey;
  }

  /**
   * Key indexes by the master of their slot (given, or computed) in ioredis's slot map (its first entry). A slot
   * it does not know yet fails its read (a miss), and the refresh that follows learns it.
   */
  private byNode(keys: readonly string[], slots: readonly number[] | undefined): Map<string, number[]> {
    const nodes = new Map<string, number[]>();
    keys.forEach((key, i) => {
      const node = this.cluster.slots[slots ? slots[i] : keySlot(key)]?.[0] ?? '';
      const indexes = nodes.get(node);
      if (indexes === undefined) nodes.set(node, [i]);
      else indexes.push(i);
    });
    return nodes;
  }
}

/**
 * GETs of keys one node owns, in any of its slots, in one command: MGET must not cross slots, and one command
 * per slot costs the client ~10 µs each (a request's keys each have their own slot). The script's flag lets
 * it read keys of several slots of its own node (Redis 7); a key the node does not own fails the call.
 */
const READ_SCRIPT =
  "#!lua flags=allow-cross-slot-keys\nlocal out = {}\nfor i, key in ipairs(ARGV) do out[i] = redis.call('GET', key) end\nreturn out";
const READ_SHA = createHash('sha1').update(READ_SCRIPT).digest('hex');

async function readOnNode(node: Redis, keys: readonly string[]): Promise<(string | null)[]> {
  const found = await node.evalsha(READ_SHA, 0, ...keys).catch((err: Error) => {
    // A node that has not seen the script yet (new, restarted or promoted): EVAL once caches it there.
    if (err.message.startsWith('NOSCRIPT')) return node.eval(READ_SCRIPT, 0, ...keys);
    throw err;
  });
  // Lua turns a missing key's nil into false, which the reply carries as nil.
  return found as (string | null)[];
}
