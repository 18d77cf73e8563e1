// The result cache against a real local Redis Cluster (3 masters, 3 replicas) that this test starts.
import t from 'tap';
import { Redis } from 'ioredis';
import { postPredict, redisCommandCalls, scrape, startRedisCluster, startService, waitFor } from './helper.js';
import { keySlot } from '../dist/src/cache/key-slot.js';
import { createCacheKey } from '../dist/src/cache/cache-key.js';

const cluster = await startRedisCluster();
t.teardown(() => cluster.stop());

// The in-process tier off (and with it the response memo): every lookup goes to the cluster.
const REDIS_ONLY = { CACHE_LRU_ENTRIES: '0' };
const TEXTS = Array.from({ length: 12 }, (_, i) => `cluster text number ${i}`);

/** Every key the masters hold, with the port of the master holding it. */
async function keysByMaster(): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const port of await cluster.masters()) {
    const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    for (const key of await node.keys('*')) found.set(key, port);
    node.disconnect();
  }
  return found;
}

t.test("the tier's key slots are the ones Redis computes (CLUSTER KEYSLOT), hash tags and UTF-8 included", async (t) => {
  const node = new Redis({ host: '127.0.0.1', port: (await cluster.masters())[0] });
  t.teardown(() => node.disconnect());
  const cacheKey = createCacheKey('sentiment', 'distilbert@0123abcd');
  const head = 'sentiment::distilbert@0123abcd::';
  const keys = [
    '123456789',
    '',
    'somekey',
    'foo{hash_tag}',
    '{user1000}.following',
    'a{}b}c',
    '{}',
    '}{',
    'a{b',
    'a{b}c{d}',
    '{{a}}',
    'café',
    'ключ{тег}x',
    'emoji 😀 key',
    'pref{ix::model::abc',
    ...Array.from({ length: 200 }, (_, i) => cacheKey(`text number ${i}`)),
    ...Array.from({ length: 50 }, (_, i) => cacheKey(`\0p3:abc${i}`)),
    // After the cache's head: odd lengths, a tag, non-ASCII, nothing.
    head,
    `${head}a`,
    `${head}abc`,
    `${head}x{tag}y`,
    `${head}{}`,
    `${head}é`,
    `${head}ab😀`,
    head.slice(0, -1),
    `${head}{${head}}`,
  ];
  const pipeline = node.pipeline();
  for (const key of keys) pipeline.cluster('KEYSLOT', key);
  const slots = (await pipeline.exec())!.map(([err, slot]) => (err ? err.message : slot));
  t.same(
    keys.map((key) => keySlot(key)),
    slots,
    `${keys.length} keys`,
  );
  // The slots the cache's keys come with (read off the digest): single texts (one NUL-led), pairs, raw logits,
  // under a plain prefix, one with a hash tag's `{` and one not ASCII.
  const inputs = [...Array.from({ length: 60 }, (_, i) => `text ${i}`), '\0snul-led', '\0p3:abcdef', '\0rtext 1', '\0r\0p1:ab'];
  for (const [prefix, model] of [
    ['sentiment', 'distilbert@0123abcd'],
    ['pre{fix', 'm}odel'],
    ['sentiment', 'modèle'],
  ]) {
    const slotsOut: number[] = [];
    const made = inputs.map((input) => createCacheKey(prefix!, model!).withSlot(input, slotsOut));
    const check = node.pipeline();
    for (const key of made) check.cluster('KEYSLOT', key);
    t.same(
      slotsOut,
      (await check.exec())!.map(([, slot]) => slot),
      `${made.length} cache keys with their slots, prefix ${JSON.stringify(prefix)}, model ${JSON.stringify(model)}`,
    );
  }
});

t.test('a request whose keys live on several nodes is stored where the cluster says, and is a hit the second time', async (t) => {
  const service = await startService({ ...REDIS_ONLY, REDIS_CLUSTER_NODES: cluster.seeds });
  t.teardown(() => service.stop());
  const first = await postPredict(service.url, { text: TEXTS });
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-cache'), 'miss');
  await waitFor(async () => (await keysByMaster()).size === TEXTS.length, 5000, 'one key per text in the cluster');

  const placed = await keysByMaster();
  t.ok(new Set(placed.values()).size >= 2, `keys on ${new Set(placed.values()).size} masters`);
  for (const [key, port] of placed) {
    const slot = Number((await cluster.cli(port, 'cluster', 'keyslot', key)).trim());
    t.equal(port, await cluster.ownerOf(slot), `${key.slice(-8)} (slot ${slot}) is on the master that owns its slot`);
  }

  // Errors counted around the second request only: the first one's lookup may pass its budget on a loaded
  // machine (new connections, each master's first EVAL), which is a miss and counts as an error, as it should.
  const [textsBefore, errorsBefore] = await scrape(service.url, 'inf_inferred_texts_total', 'inf_cache_redis_errors_total');
  const second = await postPredict(service.url, { text: [...TEXTS].reverse() });
  t.equal(second.status, 200);
  t.equal(second.headers.get('x-cache'), 'hit');
  const [textsAfter, redisHits, errors] = await scrape(
    service.url,
    'inf_inferred_texts_total',
    'inf_cache_lookups_total{result="redis_hit"}',
    'inf_cache_redis_errors_total',
  );
  t.equal(textsAfter, textsBefore, 'no text reached the model');
  t.equal(redisHits, TEXTS.length);
  t.equal(errors, errorsBefore, 'no cross-slot or redirection error');
  t.same(second.body.predictions, [...first.body.predictions].reverse(), 'the same predictions');
  t.match(service.output(), /"redis":"cluster 127\.0\.0\.1:\d+/);
});

t.test('a lookup is one command per master it touches, none to replicas', async (t) => {
  const service = await startService({ ...REDIS_ONLY, REDIS_CLUSTER_NODES: cluster.seeds });
  t.teardown(() => service.stop());
  const texts = TEXTS.map((s) => `${s} again`);
  await postPredict(service.url, { text: texts });
  await waitFor(async () => (await keysByMaster()).size === TEXTS.length * 2, 5000, 'the new keys in the cluster');
  // The first read of a node may load the script there (EVAL after NOSCRIPT); count from a warm state.
  t.equal((await postPredict(service.url, { text: texts })).headers.get('x-cache'), 'hit');
  for (const node of cluster.nodes) await cluster.cli(node.port, 'config', 'resetstat');
  const res = await postPredict(service.url, { text: texts });
  t.equal(res.headers.get('x-cache'), 'hit');
  const calls = new Map<number, number>();
  for (const node of cluster.nodes) {
    // Not GET: commandstats counts the script's own GETs too.
    calls.set(node.port, await redisCommandCalls(node.port, 'evalsha', 'eval', 'mget'));
  }
  const masters = await cluster.masters();
  const holding = new Set((await keysByMaster()).values());
  for (const port of masters) {
    t.equal(calls.get(port), holding.has(port) ? 1 : 0, `master ${port}: ${holding.has(port) ? 'one read' : 'no read'}`);
  }
  t.ok(holding.size >= 2, 'the keys are on several masters');
  t.equal([...calls].filter(([port, n]) => !masters.includes(port) && n > 0).length, 0, 'replicas are not read (a replica may lag)');
});

t.test('the configuration refuses a cluster and a single Redis at once, and seeds that are not host:port', async (t) => {
  const { loadConfig } = await import('../dist/src/config.js');
  t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_URL: 'redis://b:2' }), /exclusive/);
  t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'a:1,b' }), /"b" is not host:port/);
  t.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'http://a:1' }), /not host:port/);
  const parsed = loadConfig({ REDIS_CLUSTER_NODES: 'rediss://u:p%40ss@a:7000,rediss://b:7001' });
  t.same(parsed.redisClusterNodes, {
    seeds: [
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
    ],
    tls: true,
  });
  t.equal(parsed.redisUsername, 'u');
  t.equal(parsed.redisPassword, 'p@ss');
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: 'a:1', REDIS_PASSWORD: 'secret' }).redisPassword, 'secret');
  t.equal(
    loadConfig({ REDIS_CLUSTER_NODES: 'redis://:inurl@a:1', REDIS_PASSWORD: 'env' }).redisPassword,
    'inurl',
    'the URL wins, as for REDIS_URL',
  );
});
