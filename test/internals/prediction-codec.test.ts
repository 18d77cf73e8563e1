// The codec's two directions agree: numbers written and read back are the same numbers and the same bytes, so an
// answer built from a cached value equals one built from a new one; and what the edges now build from numbers is
// what they built when they parsed the cached JSON back (HF's top_k cut, OIP's scores and top label).
import t from 'tap';
import { PredictionCodec } from '../../dist/src/inference/prediction-codec.js';
import { scoreRow } from '../../dist/src/inference/score-functions.js';
import { descendingOrder } from '../../dist/src/inference/scores.js';

type Item = { label: string; score: number };
const LABEL_SETS = [['NEGATIVE', 'POSITIVE'], ['a', 'ab', 'b"}'], ['only']];
const FUNCTIONS = ['softmax', 'sigmoid', 'none'] as const;

function rowsFor(n: number): Float32Array[] {
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const rows = [
    new Float32Array(n),
    Float32Array.from({ length: n }, () => 88),
    Float32Array.from({ length: n }, (_, i) => (i === 0 ? -100 : 100)),
  ];
  for (let i = 0; i < 300; i++) rows.push(Float32Array.from({ length: n }, () => (random() < 0.2 ? 0 : (random() - 0.5) * 30)));
  return rows;
}

t.test('a written value reads back as the same numbers, and writes again as the same bytes', async (t) => {
  for (const labels of LABEL_SETS) {
    const codec = new PredictionCodec(labels);
    for (const fn of FUNCTIONS) {
      const mismatches: string[] = [];
      for (const logits of rowsFor(labels.length)) {
        const fresh = codec.scored(scoreRow(fn, logits, 0, labels.length));
        const cached = codec.stored(fresh.encoded);
        if (cached.encoded !== fresh.encoded || [...cached.values].join() !== [...fresh.values].join()) mismatches.push(fresh.encoded);
        if (codec.encode(cached.values) !== fresh.encoded) mismatches.push(`re-encoded ${fresh.encoded}`);
      }
      t.same(mismatches, [], `${labels.join('/')} ${fn}`);
    }
  }
});

t.test('what the edges build from numbers equals what they built by parsing the JSON back', async (t) => {
  for (const labels of LABEL_SETS) {
    const codec = new PredictionCodec(labels);
    const differences: string[] = [];
    for (const logits of rowsFor(labels.length)) {
      const json = codec.encode(scoreRow('softmax', logits, 0, labels.length));
      const parsed = JSON.parse(json) as Item[];
      const { values } = codec.stored(json);
      for (let k = 1; k <= labels.length + 1; k++) {
        if (codec.encode(values, k) !== JSON.stringify(parsed.slice(0, k))) differences.push(`top_k ${k} of ${json}`);
      }
      if (labels[descendingOrder(values)[0]] !== parsed[0].label) differences.push(`top label of ${json}`);
      const byLabel = labels.map((label) => parsed.find((item) => item.label === label)!.score);
      if (JSON.stringify(byLabel) !== JSON.stringify([...values])) differences.push(`scores by label id of ${json}`);
    }
    t.same(differences, [], labels.join('/'));
  }
});

t.test('check() is the rule for Redis; decode reads only values of the form', async (t) => {
  const codec = new PredictionCodec(['NEGATIVE', 'POSITIVE']);
  const json = codec.encode(Float64Array.from([0.25, 0.75]));
  t.equal(json, '[{"label":"POSITIVE","score":0.75},{"label":"NEGATIVE","score":0.25}]');
  t.ok(codec.check(json));
  t.notOk(codec.check('[{"label":"POSITIVE","score":3},{"label":"NEGATIVE","score":-2}]'), 'not a softmax');
  t.ok(codec.check('[{"label":"POSITIVE","score":3},{"label":"NEGATIVE","score":-2}]', true), 'raw scores');
  t.throws(() => codec.decode('[{"label":"LABEL_0","score":1}]'), 'another model: never decoded');
  const nan = codec.encode(Float64Array.from([Number.NaN, 1]));
  t.equal(codec.encode(codec.decode(nan)), nan, 'a NaN (written as null, as JSON.stringify does) reads back and writes again the same');
});
