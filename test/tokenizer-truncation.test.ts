// A huge text costs what its first MAX_TOKENS tokens cost, and the cut changes nothing: the ids equal those
// of tokenizing the whole text and truncating, on long random texts built to break a cut (giant words, CJK,
// emoji and ZWJ sequences, combining marks, mixed scripts, NUL and control characters, whitespace runs,
// special tokens written out). Small MAX_TOKENS and first cuts put the cut on every kind of boundary.
import t from 'tap';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { ExactTokenizer } from '../dist/workers/exact-tokenizer.js';
import { hostileTexts } from './hostile-texts.js';
import { STANDIN_MODEL_DIR } from './helper.js';

const TOKENIZER = join(STANDIN_MODEL_DIR, 'tokenizer.json');
const TEXTS_PER_SETTING = 150;

for (const [maxTokens, firstCut] of [
  [8, 4],
  [16, 8],
  [64, 40],
  [130, 200],
  [512, 300],
  [512, 4096],
]) {
  t.test(`MAX_TOKENS ${maxTokens}, first cut at ${firstCut} characters: ids equal whole-text tokenization truncated`, async (t) => {
    const exact = await ExactTokenizer.fromFile(TOKENIZER, maxTokens, firstCut);
    const whole = Tokenizer.fromFile(TOKENIZER);
    whole.setTruncation(maxTokens);
    const generate = hostileTexts(maxTokens * 7919 + firstCut);
    let cutShort = 0;
    for (let i = 0; i < TEXTS_PER_SETTING; i++) {
      const text = generate(1 + ((i * 7717) % 24_000));
      const expected = (await whole.encode(text)).getIds();
      const got = Array.from(await exact.encode(text));
      if (got.join() !== expected.join()) {
        t.fail(`text ${i} (${text.length} chars) differs`, {
          text: JSON.stringify(text.slice(0, 400)),
          got: got.slice(-8),
          expected: expected.slice(-8),
        });
        return;
      }
      if (expected.length === maxTokens) cutShort++;
    }
    t.ok(cutShort > TEXTS_PER_SETTING / 3, `${TEXTS_PER_SETTING} texts identical, ${cutShort} of them truncated`);
  });
}

t.test('edge texts: empty, exactly at the limit, special tokens across the cut, lone surrogates, one giant word', async (t) => {
  const exact = await ExactTokenizer.fromFile(TOKENIZER, 16, 8);
  const whole = Tokenizer.fromFile(TOKENIZER);
  whole.setTruncation(16);
  const texts = [
    '',
    ' ',
    '\u0000'.repeat(100),
    'a '.repeat(14),
    'a '.repeat(15),
    'a '.repeat(200),
    'a '.repeat(13) + '[MASK]'.repeat(20),
    'a '.repeat(12) + '[MAS' + 'K]'.repeat(5),
    'x'.repeat(99) + ' y'.repeat(40),
    'x'.repeat(5000),
    'x'.repeat(5000) + ' y'.repeat(40),
    '\ud800'.repeat(50) + ' b'.repeat(40),
    '😀'.repeat(300),
    'e\u0301'.repeat(400),
    'İ'.repeat(500),
    '日本'.repeat(300),
    ' '.repeat(3000) + 'end of the text here and more words',
  ];
  for (const text of texts) {
    t.same(Array.from(await exact.encode(text)), (await whole.encode(text)).getIds(), JSON.stringify(text.slice(0, 40)));
  }
});

t.test('a huge text costs about what its first tokens cost', async (t) => {
  const exact = await ExactTokenizer.fromFile(TOKENIZER, 512);
  const whole = Tokenizer.fromFile(TOKENIZER);
  whole.setTruncation(512);
  for (const [name, text] of [
    ['1.3 MB of English', 'the film was long but never dull, '.repeat(40_000)],
    ['1 MB of punctuation', '!?.,;:'.repeat(175_000)],
    ['1 MB of CJK', '日本語の映画'.repeat(175_000)],
  ]) {
    const before = exact.charsTokenized;
    t.same(Array.from(await exact.encode(text)), (await whole.encode(text)).getIds(), `${name}: the same ids`);
    const cost = exact.charsTokenized - before;
    t.ok(cost <= 512 * 8, `${name}: ${cost} of ${text.length} characters tokenized`);
  }
});

// Pairs: longest_first, as transformers and TEI cut them. Its split depends on which text is longer, so pairs of
// every length relation are tried (one long, both long, equal), with odd and even room for the two texts.
for (const [maxTokens, firstCut] of [
  [11, 4],
  [16, 8],
  [64, 40],
  [131, 200],
]) {
  t.test(
    `pairs, MAX_TOKENS ${maxTokens}, first cut ${firstCut}: ids and type ids equal the whole pair's, truncated longest_first`,
    async (t) => {
      const exact = await ExactTokenizer.fromFile(TOKENIZER, maxTokens, firstCut);
      const whole = Tokenizer.fromFile(TOKENIZER);
      whole.setTruncation(maxTokens);
      const generate = hostileTexts(maxTokens * 104_729 + firstCut);
      let bothCut = 0;
      for (let i = 0; i < 60; i++) {
        const a = generate(1 + ((i * 7717) % 6_000));
        const b = i % 5 === 0 ? a : generate(1 + ((i * 3581) % 6_000));
        const expected = await whole.encode(a, b);
        const got = await exact.encodePair(a, b);
        if (Array.from(got.ids).join() !== expected.getIds().join() || Array.from(got.typeIds).join() !== expected.getTypeIds().join()) {
          t.fail(`pair ${i} (${a.length} and ${b.length} chars) differs`, { got: Array.from(got.ids), expected: expected.getIds() });
          return;
        }
        const segments = expected.getTypeIds();
        if (expected.getLength() === maxTokens && segments.indexOf(1) > maxTokens / 3) bothCut++;
      }
      t.ok(bothCut > 0, `60 pairs identical, ${bothCut} of them with both texts cut`);
    },
  );
}

t.test('pair edge cases: empty texts, a tiny and a huge text, in both orders', async (t) => {
  const exact = await ExactTokenizer.fromFile(TOKENIZER, 16, 8);
  const whole = Tokenizer.fromFile(TOKENIZER);
  whole.setTruncation(16);
  const long = 'a '.repeat(300);
  for (const [a, b] of [
    ['', ''],
    ['', 'x'],
    ['short', long],
    [long, 'short'],
    [long, long],
    [long, long + 'b'],
    ['x'.repeat(5000), 'y '.repeat(40)],
  ]) {
    const got = await exact.encodePair(a, b);
    const expected = await whole.encode(a, b);
    t.same(Array.from(got.ids), expected.getIds(), `${JSON.stringify(a.slice(0, 12))} + ${JSON.stringify(b.slice(0, 12))}: ids`);
    t.same(Array.from(got.typeIds), expected.getTypeIds(), 'type ids');
  }
  const whole16 = await exact.encodeUntruncated(long, 'short');
  t.equal(whole16.ids.length, 0, 'truncate false: no ids past the limit');
  t.equal(whole16.length, (await Tokenizer.fromFile(TOKENIZER).encode(long, 'short')).getLength(), 'and the whole length');
});
