// The response memo's own rules: exact bytes and model id make the key, and it stays inside its bounds.
import t from 'tap';
import { ResponseMemo } from '../../dist/src/http/response-memo.js';

const OVERHEAD = 160;
const body = (s: string) => Buffer.from(s);
const memoOf = (maxEntries: number, maxBytes = 1 << 20, maxBodyBytes = 4096) => new ResponseMemo({ maxEntries, maxBytes, maxBodyBytes });

t.test('a hit needs the same bytes and the same model id', async (t) => {
  const memo = memoOf(8);
  const key = memo.keyOf(body('{"text":["a","b"]}'), '')!;
  memo.set('model-a', key, '{"predictions":[1,2]}', 2);
  const hit = memo.get('model-a', memo.keyOf(body('{"text":["a","b"]}'), '')!);
  t.equal(hit?.body.toString(), '{"predictions":[1,2]}', 'the stored answer, as bytes');
  t.equal(hit?.distinctTexts, 2);
  t.equal(memo.get('model-b', key), undefined, 'another model id never gets it');
  t.equal(memo.get('model-a', memo.keyOf(body('{"text":["b","a"]}'), '')!), undefined, 'reordered texts are another body');
  t.equal(memo.get('model-a', memo.keyOf(body('{"text": ["a","b"]}'), '')!), undefined, 'so is the same JSON spaced differently');
  // Bytes that are not UTF-8 still make distinct keys: one char per byte.
  t.not(memo.keyOf(Buffer.from([0xc3, 0xa9]), ''), memo.keyOf(Buffer.from([0xe9]), ''));
  t.not(memo.keyOf(Buffer.from([0xff, 0xfe]), ''), memo.keyOf(Buffer.from([0xfd, 0xfe]), ''));
  // Each route family keys under its own scope: one body sent to two routes is two entries.
  t.equal(memo.get('model-a', memo.keyOf(body('{"text":["a","b"]}'), '\0hf-inference\0')!), undefined, 'another scope is another key');
  memo.set('model-b', key, '{"predictions":[3,4]}', 2);
  t.equal(memo.get('model-b', key)?.body.toString(), '{"predictions":[3,4]}', 'a new model id replaces the entry');
  t.equal(memo.get('model-a', key), undefined, 'and the old one is gone');
  t.equal(memo.size, 1);
});

t.test('a body over the size bound has no key, so it is neither kept nor looked up', async (t) => {
  const memo = memoOf(8, 1 << 20, 10);
  t.type(memo.keyOf(body('0123456789'), ''), 'string', 'at the bound');
  t.equal(memo.keyOf(body('0123456789x'), ''), undefined, 'one byte over');
});

t.test('entries are bounded; the oldest goes first, and a hit in the older half is refreshed', async (t) => {
  const memo = memoOf(4);
  for (const k of ['a', 'b', 'c', 'd']) memo.set('m', k, k.toUpperCase(), 1);
  t.ok(memo.get('m', 'a'), 'a is in the older half: this hit refreshes it');
  memo.set('m', 'e', 'E', 1);
  t.equal(memo.size, 4, 'never more than maxEntries');
  t.equal(memo.get('m', 'b'), undefined, 'b was the oldest');
  t.ok(memo.get('m', 'a'), 'a survived');
  for (const k of ['f', 'g', 'h']) memo.set('m', k, k, 1);
  t.equal(memo.size, 4);
  t.same(
    ['a', 'e', 'f', 'g', 'h'].filter((k) => memo.get('m', k) !== undefined),
    ['e', 'f', 'g', 'h'],
    'a, no longer hit, aged out',
  );
  const off = memoOf(0);
  off.set('m', 'a', 'A', 1);
  t.equal(off.size, 0, '0 entries keeps nothing');
});

t.test('bytes are bounded: keys, answers and per-entry overhead', async (t) => {
  const entry = 10 + 20 + OVERHEAD;
  const memo = memoOf(1000, 2 * entry + 5);
  for (let i = 0; i < 50; i++) memo.set('m', `key-${String(i).padStart(6, '0')}`, 'x'.repeat(20), 1);
  t.equal(memo.size, 2, 'as many as fit');
  t.equal(memo.byteSize, 2 * entry);
  t.ok(memo.get('m', 'key-000049') && memo.get('m', 'key-000048'), 'the newest');
  memo.set('m', 'big', 'x'.repeat(1000), 1);
  t.equal(memo.get('m', 'big'), undefined, 'an entry larger than the whole bound is not kept');
  t.equal(memo.size, 2, 'and evicts nothing');
  memo.set('m', 'key-000049', 'y'.repeat(20), 1);
  t.equal(memo.byteSize, 2 * entry, 'replacing an entry does not count it twice');
  t.equal(Buffer.byteLength(memo.get('m', 'key-000049')!.body), 20);
  const multiByte = memoOf(10);
  multiByte.set('m', 'k', 'é'.repeat(10), 1);
  t.equal(multiByte.byteSize, 1 + 20 + OVERHEAD, 'answers count in UTF-8 bytes');
});
