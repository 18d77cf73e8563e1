// The cache's pure parts: key shape, LRU bounds, circuit breaker transitions, prediction formatting.
import t from 'tap';
import { createHash } from 'node:crypto';
import { createCacheKey, inputKey, rawKey } from '../../dist/src/cache/cache-key.js';
import { LruCache } from '../../dist/src/cache/lru.js';
import { CircuitBreaker } from '../../dist/src/cache/circuit-breaker.js';
import { createPredictionFormatter } from '../../dist/src/inference/prediction-codec.js';

t.test('a cache key is prefix::model id::sha256 of the text', async (t) => {
  const key = createCacheKey('fastapi-cache-project', 'abc123');
  t.equal(key('hello'), 'fastapi-cache-project::abc123::2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  t.not(createCacheKey('p', 'model-a')('x'), createCacheKey('p', 'model-b')('x'), 'the model id changes the key');
});

t.test('input keys: a plain text is itself; pairs, raw scores and NUL-led texts never meet another input', async (t) => {
  t.equal(inputKey('hello'), 'hello', "bulk-predict's texts keep their keys");
  const inputs: (string | [string, string])[] = [
    'ab',
    'abc',
    ['ab', 'c'],
    ['a', 'bc'],
    ['abc', ''],
    ['', 'abc'],
    ['c', 'ab'],
    '\0p2:abc',
    '\0s\0p2:abc',
    '\0pab',
    '\0r',
    '',
    ['', ''],
  ];
  const keys = inputs.flatMap((input) => [inputKey(input), rawKey(inputKey(input))]);
  t.equal(new Set(keys).size, keys.length, 'every input and its raw scores have a key of their own');
  const redisKey = createCacheKey('p', 'm');
  t.equal(new Set(keys.map(redisKey)).size, keys.length, 'and a Redis key of their own');
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  t.equal(redisKey(inputKey('\0x')), `p::m::${sha('\0x')}`, "a NUL-led text's Redis key is still the sha256 of the text");
  t.match(redisKey(inputKey(['ab', 'c'])), /^p::m::pair::[0-9a-f]{64}$/);
  t.match(redisKey(rawKey('ab')), /^p::m::raw::[0-9a-f]{64}$/);
  t.equal(redisKey('hello'), createCacheKey('p', 'm')('hello'));
});

t.test('the LRU evicts the least recently used entry past its entry or byte bound', async (t) => {
  const lru = new LruCache(2, 1 << 20);
  lru.set('a', '1');
  lru.set('b', '2');
  t.equal(lru.get('a'), '1', 'touch a');
  lru.set('c', '3');
  t.equal(lru.get('b'), undefined, 'b was least recent');
  t.equal(lru.get('a'), '1');
  t.equal(lru.size, 2);
  const small = new LruCache(100, 250); // each entry below counts 2 x (2 + 40) + 64 = 148 bytes
  small.set('k1', 'x'.repeat(40));
  small.set('k2', 'x'.repeat(40));
  t.equal(small.size, 1, 'the byte bound holds');
  small.set('huge', 'x'.repeat(1000));
  t.equal(small.get('huge'), undefined, 'an entry over the whole bound is not stored');
  const off = new LruCache(0, 1000);
  off.set('a', '1');
  t.equal(off.get('a'), undefined, '0 entries disables it');
});

t.test('the breaker opens after repeated failures, probes once, and reports each change once', async (t) => {
  let now = 0;
  const changes: string[] = [];
  const breaker = new CircuitBreaker(
    3,
    100,
    400,
    (s) => changes.push(s),
    () => now,
  );
  breaker.failure();
  breaker.failure();
  t.ok(breaker.allow(), 'closed below the threshold');
  breaker.failure();
  t.notOk(breaker.allow(), 'open');
  now = 150;
  t.ok(breaker.allow(), 'one probe after the open period');
  t.notOk(breaker.allow(), 'only one');
  breaker.failure();
  now = 300;
  t.notOk(breaker.allow(), 'the open period doubled');
  now = 400;
  t.ok(breaker.allow());
  breaker.success();
  t.ok(breaker.allow(), 'closed again');
  t.same(changes, ['open', 'closed']);
});

t.test('a prediction lists every label by descending score, ties in label order, as float32 softmax', async (t) => {
  const format = createPredictionFormatter(['NEGATIVE', 'POSITIVE']);
  const logits = new Float32Array([-1, 2, 0.5, 0.5]);
  const first = JSON.parse(format(logits, 0));
  t.same(
    first.map((p: { label: string }) => p.label),
    ['POSITIVE', 'NEGATIVE'],
  );
  t.equal(first[0].score, Math.fround(Math.exp(3) / (1 + Math.exp(3))));
  t.same(
    JSON.parse(format(logits, 1)),
    [
      { label: 'NEGATIVE', score: 0.5 },
      { label: 'POSITIVE', score: 0.5 },
    ],
    'a tie keeps id order',
  );
});
