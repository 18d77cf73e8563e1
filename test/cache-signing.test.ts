// Signed cache values (CACHE_SIGNING_KEYS, src/cache/value-signing.ts) on the real service, over HTTP, against a real
// redis-server and a real Redis Cluster: a value in Redis that does not verify (labels swapped or scores changed
// with the signature kept, the signature dropped, a genuine value copied from another text's key, a value signed
// with a key the service does not hold) is never served, is counted, and is overwritten with a correctly signed
// value; every such forgery here passes the structural check alone, which a service without keys shows by
// serving it. Rotation ("new,old" reads what "old" wrote and writes with "new"), CACHE_SIGNING_KEYS_FILE as the
// kubelet mounts a Secret (and its rotation), the in-process tier holding verified values only, the warning of a
// service whose values are unsigned, and no key in any output.
import t, { type Test } from 'tap';
import { hash } from 'node:crypto';
import { secretMount } from './secret-mount.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  exposition,
  logRecords,
  postPredict,
  scrape,
  type ServiceProcess,
  startRedis,
  startRedisCluster,
  startService,
  waitFor,
} from './helper.js';
import { SIGNED_HEADER_LENGTH, ValueSigner } from '../dist/src/cache/value-signing.js';

const OLD = 'old-cache-key-3q2+7w==-RzVhMzE4ZDc4Yjg2';
const NEW = 'new-cache-key-9f86d081884c7d659a2feaa0c55a';
const ROTATED = 'rotated-cache-key-2c26b46b68ffc68ff99b453c1d30';
const ROGUE = 'a-key-the-services-never-held-0123456789abc';
const ALL_KEYS = [OLD, NEW, ROTATED];

const INVALID = 'inf_cache_redis_invalid_total';
const UNVERIFIED = 'inf_cache_redis_unverified_total';
const MISSES = 'inf_cache_lookups_total{result="miss"}';
const REDIS_HITS = 'inf_cache_lookups_total{result="redis_hit"}';
const MEMORY_HITS = 'inf_cache_lookups_total{result="memory_hit"}';
// A lookup past its budget would be a miss: on a loaded machine the default 30 ms can pass, and these tests
// are about which values are served, not about the budget.
const BUDGET = { CACHE_LOOKUP_TIMEOUT_MS: '2000' };
// No in-process tier (and no response memo): every request reads Redis.
const REDIS_ONLY = { CACHE_LRU_ENTRIES: '0', ...BUDGET };

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
t.teardown(async () => {
  redis.disconnect();
  await redisServer.stop();
});

const signer = (...keys: string[]) => new ValueSigner(keys);
/** `v1.<key id>.`: what a value signed with `key` starts with. */
const headOf = (key: string) => signer(key).seal('k', '[]').slice(0, 12);
const SIGNED = /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{22}\.\[/;

/** The prediction with its two labels swapped and the scores left where they were: well-formed, and false. */
function swapLabels(prediction: string): string {
  const [first, second] = JSON.parse(prediction) as { label: string; score: number }[];
  return JSON.stringify([
    { label: second!.label, score: first!.score },
    { label: first!.label, score: second!.score },
  ]);
}

/** The Redis key of a single text, given the key of another text of the same service. */
const keyOfText = (sameService: string, text: string) => sameService.replace(/[0-9a-f]{64}$/, hash('sha256', text));

/** Scores `text` through `service` with nothing in Redis for it; returns its Redis key, the value written and the prediction. */
async function scored(service: ServiceProcess, text: string): Promise<{ key: string; value: string; prediction: string }> {
  const before = new Set(await redis.keys('*'));
  const response = await postPredict(service.url, { text: [text] });
  if (response.status !== 200) throw new Error(`scoring ${JSON.stringify(text)} answered ${response.status}`);
  let key: string | undefined;
  await waitFor(async () => (key = (await redis.keys('*')).find((k) => !before.has(k))) !== undefined, 5_000, 'the write-back');
  return { key: key!, value: (await redis.get(key!))!, prediction: JSON.stringify(response.body.predictions[0]) };
}

function assertNoKeyInOutput(t: Test, service: ServiceProcess): void {
  const output = service.output();
  t.ok(logRecords(output).length > 5, 'the service logged (the check below reads real lines)');
  for (const key of [...ALL_KEYS, ROGUE]) t.notOk(output.includes(key), `no output holds ${key.slice(0, 4)}…`);
}

/**
 * Each forged value, put under `key`: answered with the model's prediction (a miss), counted as invalid and as
 * unverified, then overwritten with `genuine` (signing is deterministic: the same key and value, the same bytes).
 */
async function assertRefused(
  t: Test,
  service: ServiceProcess,
  text: string,
  key: string,
  genuine: string,
  forged: [string, string][],
): Promise<void> {
  const prediction = genuine.slice(SIGNED_HEADER_LENGTH);
  for (const [name, value] of forged) {
    await redis.set(key, value, 'EX', 3600);
    const [invalidBefore, unverifiedBefore, missesBefore] = await scrape(service.url, INVALID, UNVERIFIED, MISSES);
    const response = await postPredict(service.url, { text: [text] });
    t.equal(response.status, 200, `${name}: 200`);
    t.equal(JSON.stringify(response.body.predictions[0]), prediction, `${name}: the model's answer, not the stored one`);
    t.equal(response.headers.get('x-cache'), 'miss', `${name}: x-cache miss`);
    const [invalidAfter, unverifiedAfter, missesAfter] = await scrape(service.url, INVALID, UNVERIFIED, MISSES);
    t.equal(unverifiedAfter - unverifiedBefore, 1, `${name}: counted in ${UNVERIFIED}`);
    t.equal(invalidAfter - invalidBefore, 1, `${name}: and in ${INVALID}`);
    t.equal(missesAfter - missesBefore, 1, `${name}: counted as a miss`);
    await waitFor(async () => (await redis.get(key)) === genuine, 5_000, `${name}: the value to be overwritten`);
    t.pass(`${name}: overwritten with the correctly signed value`);
  }
}

t.test('with CACHE_SIGNING_KEYS, a value that does not verify is never served, is counted and is overwritten; rotation', async (t) => {
  await redis.flushall();
  const [old, rotated] = await Promise.all([
    startService({ REDIS_URL: redisServer.url, CACHE_SIGNING_KEYS: OLD, ...REDIS_ONLY }),
    startService({ REDIS_URL: redisServer.url, CACHE_SIGNING_KEYS: `${NEW},${OLD}`, ...REDIS_ONLY }),
  ]);
  t.teardown(() => Promise.all([old.stop(), rotated.stop()]));

  const text = 'a text whose signed cache entry gets tampered with';
  const other = 'another text, whose genuine signed value gets copied';
  const { key, value: genuine, prediction } = await scored(rotated, text);
  const { key: otherKey, value: otherGenuine } = await scored(rotated, other);

  t.test('what a signed value is, and a genuine one is a hit', async (t) => {
    t.match(genuine, SIGNED);
    t.equal(genuine.slice(0, 12), headOf(NEW), 'signed with the first key');
    t.equal(genuine.slice(SIGNED_HEADER_LENGTH), prediction, 'the prediction as the service answers it');
    t.equal(signer(NEW).open(key, genuine), prediction, 'verifies with the key, over this Redis key');
    const [hitsBefore, unverifiedBefore] = await scrape(rotated.url, REDIS_HITS, UNVERIFIED);
    const hit = await postPredict(rotated.url, { text: [text] });
    t.equal(hit.headers.get('x-cache'), 'hit');
    t.equal(JSON.stringify(hit.body.predictions[0]), prediction);
    const [hitsAfter, unverifiedAfter] = await scrape(rotated.url, REDIS_HITS, UNVERIFIED);
    t.equal(hitsAfter - hitsBefore, 1, 'a Redis hit');
    t.equal(unverifiedAfter, unverifiedBefore, 'not counted as unverified');
  });

  t.test('altered, unsigned, moved or foreign values are misses, counted, and overwritten', async (t) => {
    const head = genuine.slice(0, SIGNED_HEADER_LENGTH);
    const [first, second] = JSON.parse(prediction) as { label: string; score: number }[];
    const changedScores = JSON.stringify([
      { label: first!.label, score: 0.75 },
      { label: second!.label, score: 0.25 },
    ]);
    t.not(otherGenuine.slice(SIGNED_HEADER_LENGTH), prediction, 'the other text has another prediction');
    await assertRefused(t, rotated, text, key, genuine, [
      ['labels swapped, signature kept', head + swapLabels(prediction)],
      ['scores changed, signature kept', head + changedScores],
      ['the signature dropped', prediction],
      ["another text's genuine value and signature", otherGenuine],
      ['signed with a key the service does not hold', signer(ROGUE).seal(key, swapLabels(prediction))],
      ['signed with an unknown key under a known key id', head + signer(ROGUE).seal(key, swapLabels(prediction)).slice(12)],
    ]);
    t.equal(await redis.get(otherKey), otherGenuine, "the other text's value is untouched");
  });

  t.test('rotation: "new,old" reads what "old" wrote, and writes with "new"', async (t) => {
    const byOld = await scored(old, 'a text first scored by the service holding only the old key');
    t.equal(byOld.value.slice(0, 12), headOf(OLD), '"old" signs with the old key');
    const [hitsBefore, unverifiedBefore] = await scrape(rotated.url, REDIS_HITS, UNVERIFIED);
    const read = await postPredict(rotated.url, { text: ['a text first scored by the service holding only the old key'] });
    t.equal(read.headers.get('x-cache'), 'hit', '"new,old" serves it');
    t.equal(JSON.stringify(read.body.predictions[0]), byOld.prediction);
    const [hitsAfter, unverifiedAfter] = await scrape(rotated.url, REDIS_HITS, UNVERIFIED);
    t.equal(hitsAfter - hitsBefore, 1, 'as a Redis hit');
    t.equal(unverifiedAfter, unverifiedBefore, 'verified with the old key');
    t.equal(await redis.get(byOld.key), byOld.value, 'and leaves it as it is');

    const byNew = await scored(rotated, 'a text first scored by the rotated service');
    t.equal(byNew.value.slice(0, 12), headOf(NEW), '"new,old" signs with the new key');
    t.equal(signer(NEW).open(byNew.key, byNew.value), byNew.prediction, 'which verifies with the new key alone');
    t.equal(signer(OLD).open(byNew.key, byNew.value), undefined, 'and not with the old one');
    // Until every pod holds the new key, the pods without it refuse its values (and rewrite them with theirs):
    // so a rotation first adds the new key second everywhere, then moves it first (docs/scaling-out.md).
    const [unverifiedOld] = await scrape(old.url, UNVERIFIED);
    const refused = await postPredict(old.url, { text: ['a text first scored by the rotated service'] });
    t.equal(refused.headers.get('x-cache'), 'miss', 'a service without the new key does not serve it');
    t.equal((await scrape(old.url, UNVERIFIED))[0]! - unverifiedOld!, 1, 'and counts it');
  });

  t.test('no key in any output', async (t) => {
    for (const service of [old, rotated]) {
      assertNoKeyInOutput(t, service);
      t.notOk(
        logRecords(service.output()).some((r) => r.level === 40 && /not signed/.test(r.msg)),
        'no unsigned-values warning when values are signed',
      );
    }
    const line = logRecords(rotated.output()).find((r) => r.msg === 'cache signing keys');
    t.same([line?.keys, line?.from], [2, 'CACHE_SIGNING_KEYS'], 'the start logs how many keys, and from where');
  });
});

t.test('without keys, the cache works as before: unsigned values, the structural check only, one warning', async (t) => {
  await redis.flushall();
  const service = await startService({ REDIS_URL: redisServer.url, ...REDIS_ONLY });
  t.teardown(() => service.stop());
  const text = 'a text cached by a service without signing keys';
  const { key, value, prediction } = await scored(service, text);
  t.equal(value, prediction, 'the value is the prediction itself, unsigned');
  const hit = await postPredict(service.url, { text: [text] });
  t.equal(hit.headers.get('x-cache'), 'hit', 'and a hit');

  // What signing is for: a false but well-formed value is served without it.
  await redis.set(key, swapLabels(prediction), 'EX', 3600);
  const fooled = await postPredict(service.url, { text: [text] });
  t.equal(fooled.headers.get('x-cache'), 'hit');
  t.equal(JSON.stringify(fooled.body.predictions[0]), swapLabels(prediction), 'labels swapped in Redis are served as they are');

  // A signed value is not a prediction to a service without keys: a miss, overwritten unsigned.
  await redis.set(key, signer(NEW).seal(key, prediction), 'EX', 3600);
  const [invalidBefore] = await scrape(service.url, INVALID);
  t.equal((await postPredict(service.url, { text: [text] })).headers.get('x-cache'), 'miss', 'a signed value is a miss');
  t.equal((await scrape(service.url, INVALID))[0]! - invalidBefore!, 1, `counted in ${INVALID}`);
  await waitFor(async () => (await redis.get(key)) === prediction, 5_000, 'the unsigned value back');

  const metrics = await exposition(service.url);
  t.notMatch(metrics, new RegExp(`^# TYPE ${UNVERIFIED}`, 'm'), 'no unverified counter without keys');
  const warnings = logRecords(service.output()).filter((r) => r.level === 40 && /not signed/.test(r.msg));
  t.equal(warnings.length, 1, 'one warning at start: the values in Redis are not signed');
  t.match(warnings[0]?.msg, /CACHE_SIGNING_KEYS/, 'naming the setting');
});

t.test('CACHE_SIGNING_KEYS_FILE, mounted as the kubelet mounts a Secret, with the in-process tier on', async (t) => {
  await redis.flushall();
  const { file: keysFile, publish } = secretMount(
    t,
    'cache-signing-secret-',
    `# cache signing keys: the first signs\n\n${NEW}\n  # the old one, until its values expire\n${OLD}\r\n`,
  );
  const service = await startService({
    REDIS_URL: redisServer.url,
    CACHE_SIGNING_KEYS_FILE: keysFile,
    CACHE_SIGNING_KEYS_FILE_CHECK_MS: '100',
    ...BUDGET,
  });
  t.teardown(() => service.stop());

  let sample = '';

  t.test('signs with the first key of the file, verifies with the others', async (t) => {
    const fresh = await scored(service, 'a text scored by the service reading its keys from a file');
    sample = fresh.key;
    t.equal(fresh.value.slice(0, 12), headOf(NEW), 'the first key of the file signs');
    // Put in Redis, signed with the file's second key, before this service has seen the text.
    const text = 'a text whose value the old key signed';
    const key = keyOfText(sample, text);
    await redis.set(key, signer(OLD).seal(key, fresh.prediction), 'EX', 3600);
    const [hitsBefore] = await scrape(service.url, REDIS_HITS);
    const read = await postPredict(service.url, { text: [text] });
    t.equal(read.headers.get('x-cache'), 'hit', 'a value the second key signed is served');
    t.equal(JSON.stringify(read.body.predictions[0]), fresh.prediction, 'as it was signed');
    t.equal((await scrape(service.url, REDIS_HITS))[0]! - hitsBefore!, 1, 'from Redis');
  });

  t.test('the in-process tier holds verified values only', async (t) => {
    const text = 'a text whose forged value waits in Redis before it is ever scored';
    const key = keyOfText(sample, text);
    // Forged before the first request: the model's labels, each once, on made-up scores.
    const forged = signer(ROGUE).seal(key, '[{"label":"NEGATIVE","score":0.9},{"label":"POSITIVE","score":0.1}]');
    await redis.set(key, forged, 'EX', 3600);
    const [unverifiedBefore, memoryBefore] = await scrape(service.url, UNVERIFIED, MEMORY_HITS);
    const first = await postPredict(service.url, { text: [text] });
    t.equal(first.headers.get('x-cache'), 'miss', 'the forged value is a miss');
    const [unverifiedAfter] = await scrape(service.url, UNVERIFIED);
    t.equal(unverifiedAfter! - unverifiedBefore!, 1, 'and counted');
    const second = await postPredict(service.url, { text: [text] });
    t.equal(second.headers.get('x-cache'), 'hit');
    t.same(second.body, first.body, "the in-process tier serves the model's answer, not the forged one");
    const [memoryAfter] = await scrape(service.url, MEMORY_HITS);
    t.equal(memoryAfter! - memoryBefore!, 1, 'from memory');
    await waitFor(async () => (await redis.get(key))!.startsWith(headOf(NEW)), 5_000, 'the forged value overwritten');
    t.equal(signer(NEW).open(key, (await redis.get(key))!), JSON.stringify(first.body.predictions[0]), 'with the signed answer');
  });

  t.test('a rotated Secret replaces the keys while the service runs; an unusable one keeps them', async (t) => {
    publish(`${ROTATED}\n${NEW}\n`);
    await waitFor(
      () => logRecords(service.output()).some((r) => r.msg === 'cache signing keys reloaded' && r.keys === 2),
      10_000,
      'the reload',
    );
    const after = await scored(service, 'a text scored after the rotation of the file');
    t.equal(after.value.slice(0, 12), headOf(ROTATED), 'the new first key signs');

    publish('# emptied by mistake\n');
    await waitFor(() => logRecords(service.output()).some((r) => r.level === 40 && /keeping the keys/.test(r.msg)), 10_000, 'the warning');
    const kept = await scored(service, 'a text scored after the file was emptied');
    t.equal(kept.value.slice(0, 12), headOf(ROTATED), 'a file with no key keeps the keys in use');
  });

  t.test('no key in any output', async (t) => {
    assertNoKeyInOutput(t, service);
    const line = logRecords(service.output()).find((r) => r.msg === 'cache signing keys');
    t.same([line?.keys, line?.from], [2, keysFile]);
  });
});

t.test('against a Redis Cluster: values signed on every master, a tampered one refused and overwritten', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const service = await startService({ REDIS_CLUSTER_NODES: cluster.seeds, CACHE_SIGNING_KEYS: NEW, ...REDIS_ONLY });
  t.teardown(() => service.stop());
  const nodes = new Map((await cluster.masters()).map((port) => [port, new Redis({ host: '127.0.0.1', port })]));
  t.teardown(() => {
    for (const node of nodes.values()) node.disconnect();
  });
  /** Every key on the masters, with its value and its master's connection. */
  const stored = async () => {
    const found = new Map<string, { value: string; node: Redis }>();
    for (const node of nodes.values()) for (const key of await node.keys('*')) found.set(key, { value: (await node.get(key))!, node });
    return found;
  };
  const texts = Array.from({ length: 8 }, (_, i) => `a signed text in the cluster, number ${i}`);
  const first = await postPredict(service.url, { text: texts });
  t.equal(first.status, 200);
  await waitFor(async () => (await stored()).size === texts.length, 5_000, 'one key per text in the cluster');
  const values = await stored();
  t.ok(new Set([...values.values()].map((v) => v.node)).size >= 2, 'on several masters');
  for (const [key, { value }] of values) t.ok(signer(NEW).open(key, value) !== undefined, `${key.slice(-8)}: signed over its key`);

  // One value altered on its master, and another text's genuine value copied under a key of another master.
  const entries = [...values];
  const [alteredKey, altered] = entries[0]!;
  const [movedKey, moved] = entries.find(([, v]) => v.node !== altered.node)!;
  const [, source] = entries.find(([k, v]) => k !== alteredKey && k !== movedKey && v.value !== moved.value)!;
  await altered.node.set(alteredKey, altered.value.slice(0, SIGNED_HEADER_LENGTH) + swapLabels(altered.value.slice(SIGNED_HEADER_LENGTH)));
  await moved.node.set(movedKey, source.value);
  const [hitsBefore, unverifiedBefore, invalidBefore] = await scrape(service.url, REDIS_HITS, UNVERIFIED, INVALID);
  const second = await postPredict(service.url, { text: texts });
  t.equal(second.status, 200);
  t.same(second.body, first.body, "every text's own prediction: neither the altered nor the moved value is served");
  t.equal(second.headers.get('x-cache'), 'partial', 'some texts cached, two not');
  const [hitsAfter, unverifiedAfter, invalidAfter] = await scrape(service.url, REDIS_HITS, UNVERIFIED, INVALID);
  t.equal(hitsAfter! - hitsBefore!, texts.length - 2, 'the others are Redis hits');
  t.equal(unverifiedAfter! - unverifiedBefore!, 2, `both counted in ${UNVERIFIED}`);
  t.equal(invalidAfter! - invalidBefore!, 2, `and in ${INVALID}`);
  await waitFor(
    async () => (await altered.node.get(alteredKey)) === altered.value && (await moved.node.get(movedKey)) === moved.value,
    5_000,
    'both overwritten',
  );
  t.pass('both overwritten with their correctly signed values');
  assertNoKeyInOutput(t, service);
});

t.test('keys that cannot be used stop the start with INF_ERR_CONFIG, and the message holds no key', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ CACHE_SIGNING_KEYS: `${NEW},too-short-a-key` }, /CACHE_SIGNING_KEYS: item 2 has 15 characters; a signing key has 32 to 64/],
    [{ CACHE_SIGNING_KEYS_FILE: join(tmpdir(), 'no-such-signing-keys-file') }, /CACHE_SIGNING_KEYS_FILE: cannot read .*\(ENOENT\)/],
    [{ CACHE_SIGNING_KEYS: NEW, CACHE_SIGNING_KEYS_FILE: '/x' }, /CACHE_SIGNING_KEYS and CACHE_SIGNING_KEYS_FILE are exclusive/],
  ];
  for (const [env, message] of cases) {
    const service = await startService({ REDIS_URL: redisServer.url, ...env }, { waitHealthy: false });
    const { child } = service;
    const code = child.exitCode ?? (await new Promise((resolve) => child.once('exit', resolve)));
    t.equal(code, 1, `${Object.keys(env).join('+')}: exit 1`);
    const fatal = logRecords(service.output()).find((r) => r.level === 60);
    t.equal(fatal?.code, 'INF_ERR_CONFIG');
    t.match(fatal?.msg, message);
    t.notOk(service.output().includes(NEW) || service.output().includes('too-short-a-key'), 'no key in the output');
  }
});
