// Lookups asked for in one turn of the event loop reach Redis as one command (src/cache/coalesced-lookups.ts),
// against a real redis-server and a real local Redis Cluster.
import t from 'tap';
import { CoalescedLookups } from '../dist/src/cache/coalesced-lookups.js';
import { RedisCluster } from '../dist/src/cache/redis-cluster.js';
import { keySlot } from '../dist/src/cache/key-slot.js';
import { SingleRedis } from '../dist/src/cache/redis-transport.js';
import { redisCli, redisCommandCalls, startRedis, startRedisCluster, waitFor } from './helper.js';

const keys = (request: number) => Array.from({ length: 6 }, (_, i) => `coalesce::${request}::${i}`);
const stored = (key: string) => `value of ${key}`;

t.test('one server: three lookups in one turn are one MGET, each answered with its own keys in order', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const transport = new CoalescedLookups(new SingleRedis(redis.url, {}));
  t.teardown(() => transport.close());
  await waitFor(async () => transport.ready, 5000, 'connected');
  t.ok(await transport.setEx([...keys(0), ...keys(1)], [...keys(0), ...keys(1)].map(stored), 60));
  const before = await redisCommandCalls(redis.port, 'mget');

  const answers = await Promise.all([transport.mget(keys(0)), transport.mget(keys(1)), transport.mget(keys(2))]);
  t.same(answers[0], keys(0).map(stored), 'the first lookup gets its values');
  t.same(answers[1], keys(1).map(stored), 'the second its own');
  t.same(
    answers[2],
    keys(2).map(() => null),
    'absent keys are null',
  );
  t.equal((await redisCommandCalls(redis.port, 'mget')) - before, 1, 'one MGET for the three');

  await transport.mget(keys(0));
  await transport.mget(keys(1));
  t.equal((await redisCommandCalls(redis.port, 'mget')) - before, 3, 'lookups of later turns go on their own');

  // Redis busy for 300 ms: the first lookup's MGET is in flight meanwhile; two lookups of later turns wait for it.
  const sleeping = redisCli(redis.port, 'debug', 'sleep', '0.3');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const first = transport.mget(keys(0));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = transport.mget(keys(1));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const third = transport.mget(keys(2));
  t.same(await Promise.all([first, second, third]), [keys(0).map(stored), keys(1).map(stored), keys(2).map(() => null)]);
  await sleeping;
  t.equal((await redisCommandCalls(redis.port, 'mget')) - before, 5, 'lookups that came while a read was in flight went as one, after it');

  await redis.stop();
  await waitFor(async () => !transport.ready, 5000, 'disconnected');
  const failed = await Promise.allSettled([transport.mget(keys(0)), transport.mget(keys(1))]);
  t.same(
    failed.map((r) => r.status),
    ['rejected', 'rejected'],
    'a failed MGET fails every lookup that shared it (the tier serves them as misses)',
  );
});

t.test('a cluster: lookups of one turn are one read per master for all of their keys', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const seeds = cluster.seeds.split(',').map((seed) => ({ host: '127.0.0.1', port: Number(seed.split(':')[1]) }));
  const transport = new CoalescedLookups(new RedisCluster({ seeds, tls: false }));
  t.teardown(() => transport.close());
  await waitFor(async () => transport.ready, 10_000, 'cluster ready');
  const all = [...keys(0), ...keys(1), ...keys(2), ...keys(3)];
  t.ok(await transport.setEx(all, all.map(stored), 60));
  await transport.mget(all); // each master learns the read script (EVAL) once
  const masters = await cluster.masters();
  const scriptCalls = () => Promise.all(masters.map((port) => redisCommandCalls(port, 'evalsha', 'eval')));
  const before = await scriptCalls();

  const answers = await Promise.all([0, 1, 2, 3].map((r) => transport.mget(keys(r))));
  for (const r of [0, 1, 2, 3]) t.same(answers[r], keys(r).map(stored), `lookup ${r} gets its own values`);
  const after = await scriptCalls();
  t.same(
    after.map((n, i) => n - before[i]!),
    masters.map(() => 1),
    `one read on each of the ${masters.length} masters for the four lookups' 24 keys`,
  );

  // Keys may come with their slots (the cache's do: cache-key.ts), in any mix with lookups that have none.
  const slotsOf = (ks: readonly string[]) => ks.map((key) => keySlot(key));
  const mixed = await Promise.all([
    transport.mget(keys(0), slotsOf(keys(0))),
    transport.mget(keys(1)),
    transport.mget(keys(2), slotsOf(keys(2))),
  ]);
  t.same(
    mixed,
    [0, 1, 2].map((r) => keys(r).map(stored)),
    'lookups with and without their slots, in one turn, get their values',
  );
  t.same(await transport.mget(keys(3), slotsOf(keys(3))), keys(3).map(stored), 'a lookup with its slots alone gets its values');
  // The slots given are the ones used: a key sent to a master that does not own it fails that master's read.
  const wrong = await transport.mget(
    keys(3),
    slotsOf(keys(3)).map((slot) => (slot + 8192) % 16384),
  );
  t.ok(wrong.includes(undefined), 'keys under wrong slots are not read (undefined: their node failed)');
  t.notOk(
    wrong.some((value, i) => value !== undefined && value !== stored(keys(3)[i]!)),
    'and none is read as another key',
  );
});
