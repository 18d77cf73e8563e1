// Text pairs against the ground truth: every score the service answers for a pair (and for a single text on
// the same model) equals a direct onnxruntime-node run of the standard pair tokenization (the tokenizer's pair
// template, longest_first to the model's limit, its token_type_ids) within 1e-5, alone and batched with texts
// of other lengths, as scores and as raw logits; /rerank's scores are the cross-encoder's sigmoids (logits raw).
import t from 'tap';
import { postPredict, startService } from './helper.js';
import { loadDirectModel, PAIR_FIXTURE_MODELS } from './fixture-models.js';

const TOLERANCE = 1e-5;
const nli = PAIR_FIXTURE_MODELS.nli;
const long = Array.from({ length: 60 }, (_, i) => (i % 2 ? 'good movie' : 'boring story')).join(' ');
const PAIRS: [string, string][] = [
  ['a good movie', 'it is fun'],
  ['it is fun', 'a good movie'],
  ['the worst film ever', 'I love this movie!'],
  ['', 'only the second text'],
  ['only the first text', ''],
  ['Ünïcödé — 日本語 😀', 'GREAT   Story,  bad   MUSIC?!'],
  // Past the model's 24 tokens: one long text, then both (longest_first decides each side's share).
  [long, 'short text'],
  ['short text', long],
  [long, `${long} again`],
];
const SINGLES = ['a good movie', 'the worst film ever', long];

const softmax = (logits: number[]): number[] => {
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
};
type Item = { label: string; score: number };
const byLabel = (items: Item[]): Record<string, number> => Object.fromEntries(items.map((p) => [p.label, p.score]));

t.test('nli-pair: pairs and singles over /predict equal the direct run, as scores and raw logits', async (t) => {
  const direct = await loadDirectModel(nli);
  const service = await startService({ MODEL_DIR: nli.dir, WORKERS: '1', TEI_PREFIX: '/tei' });
  t.teardown(() => service.stop());

  const expected = async (input: string | [string, string], raw: boolean): Promise<Record<string, number>> => {
    const logits = typeof input === 'string' ? await direct.logits(input) : await direct.logits(input[0], input[1]);
    const values = raw ? logits : softmax(logits);
    return Object.fromEntries(values.map((v, i) => [nli.labels[i], v]));
  };
  const check = (got: Item[], want: Record<string, number>, what: string): void => {
    t.same(got.map((p) => p.label).sort(), [...nli.labels].sort(), `${what}: every label`);
    const diff = Math.max(...got.map((p) => Math.abs(p.score - want[p.label])));
    t.ok(diff <= TOLERANCE, `${what}: max diff ${diff.toExponential(2)}`);
    for (let i = 1; i < got.length; i++) t.ok(got[i - 1].score >= got[i].score, `${what}: by descending score`);
  };

  const segmentsMatter = await direct.logits('a good movie', 'it is fun', 'zero');
  const withTypes = await direct.logits('a good movie', 'it is fun');
  t.ok(Math.max(...withTypes.map((l, i) => Math.abs(l - segmentsMatter[i]))) > 1e-2, 'the fixture reads token_type_ids');

  for (const raw of [false, true]) {
    for (const pair of PAIRS) {
      const res = await postPredict(service.url, { inputs: pair, truncate: true, raw_scores: raw }, { path: '/tei/predict' });
      t.equal(res.status, 200, res.text);
      check(res.body, await expected(pair, raw), `${raw ? 'raw ' : ''}pair ${JSON.stringify(pair).slice(0, 40)}`);
    }
    // One batch mixing pairs and singles of every length: padded together, each row with its own type ids.
    const batch: (string | [string, string])[] = [...PAIRS.map((p): [string, string] => [`${p[0]} x`, p[1]]), ...SINGLES];
    const res = await postPredict(
      service.url,
      { inputs: batch.map((input) => (typeof input === 'string' ? [input] : input)), truncate: true, raw_scores: raw },
      { path: '/tei/predict' },
    );
    t.equal(res.status, 200, res.text);
    t.equal(res.body.length, batch.length);
    for (const [i, input] of batch.entries()) check(res.body[i], await expected(input, raw), `${raw ? 'raw ' : ''}batched ${i}`);
  }

  // bulk-predict on the same model: single texts, as before.
  const bulk = await postPredict(service.url, { text: SINGLES });
  t.equal(bulk.status, 200);
  for (const [i, text] of SINGLES.entries()) check(bulk.body.predictions[i], await expected(text, false), `bulk-predict ${i}`);
  // A pair's scores are not its first text's.
  const pairAnswer = await postPredict(service.url, { inputs: ['a good movie', 'it is fun'], truncate: true }, { path: '/tei/predict' });
  t.not(JSON.stringify(byLabel(pairAnswer.body)), JSON.stringify(byLabel(bulk.body.predictions[0])), 'the pair is not its first text');
});

t.test('cross-encoder: /rerank scores are the sigmoid of the direct run of (query, text), raw_scores the logit', async (t) => {
  const model = PAIR_FIXTURE_MODELS.crossEncoder;
  const direct = await loadDirectModel(model);
  const service = await startService({ MODEL_DIR: model.dir, WORKERS: '1' });
  t.teardown(() => service.stop());
  const query = 'a good movie';
  const texts = ['it is fun', 'the worst film ever', long, '', 'a good movie'];
  const logits = await Promise.all(texts.map(async (text) => (await direct.logits(query, text))[0]));
  for (const raw of [false, true]) {
    const res = await postPredict(service.url, { query, texts, raw_scores: raw, truncate: true }, { path: '/rerank' });
    t.equal(res.status, 200, res.text);
    t.same(
      res.body.map((r: { index: number }) => r.index).sort(),
      texts.map((_, i) => i),
      'every text once',
    );
    for (const { index, score } of res.body as { index: number; score: number }[]) {
      const want = raw ? logits[index] : 1 / (1 + Math.exp(-logits[index]));
      t.ok(Math.abs(score - want) <= TOLERANCE, `${raw ? 'raw ' : ''}text ${index}: ${score} vs direct ${want}`);
    }
    for (let i = 1; i < res.body.length; i++) t.ok(res.body[i - 1].score >= res.body[i].score, 'by descending score');
    t.ok(
      res.body.every((r: object) => !('text' in r)),
      'no text unless asked',
    );
  }
  const withText = await postPredict(service.url, { query, texts, return_text: true, truncate: true }, { path: '/rerank' });
  for (const rank of withText.body as { index: number; text: string }[]) t.equal(rank.text, texts[rank.index], 'return_text: its text');
  t.same(Object.keys(withText.body[0]), ['index', 'text', 'score'], "TEI's field order");
  const tooLong = await postPredict(service.url, { query, texts: [long] }, { path: '/rerank' });
  t.equal(tooLong.status, 413, 'truncate false (the default): a pair past the limit is refused');
  t.equal(tooLong.body.error_type, 'validation');
});
