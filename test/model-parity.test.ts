// The service's scores are the model's: the same text run directly through onnxruntime-node here.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { postPredict, startService, STANDIN_MODEL_DIR } from './helper.js';

const labels: Record<string, string> = JSON.parse(readFileSync(join(STANDIN_MODEL_DIR, 'config.json'), 'utf8')).id2label;
const tokenizer = await Tokenizer.fromFile(join(STANDIN_MODEL_DIR, 'tokenizer.json'));
tokenizer.setTruncation(512);
const session = await ort.InferenceSession.create(join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx'));

/** Softmax of the logits of one text run alone, by label name. */
async function direct(text: string): Promise<Record<string, number>> {
  const encoding = await tokenizer.encode(text);
  const ids = BigInt64Array.from(encoding.getIds(), BigInt);
  const mask = BigInt64Array.from(encoding.getAttentionMask(), BigInt);
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, [1, ids.length]),
    attention_mask: new ort.Tensor('int64', mask, [1, mask.length]),
  });
  const logits = Array.from(out.logits.data as Float32Array);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return Object.fromEntries(exps.map((e, i) => [labels[String(i)], e / sum]));
}

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());

const sentences = [
  'I love you.',
  'I hate you.',
  'The film was terrible.',
  'A masterpiece.',
  "it 's a charming and often affecting journey . ",
  'unflinchingly bleak and desperate',
  '',
  'Ünïcödé — 日本語のテキスト 😀',
  Array.from({ length: 700 }, () => 'good').join(' '),
];

t.test('a single text sent alone scores as the model run directly (within 1e-5), labels from config.json', async (t) => {
  for (const text of sentences) {
    const res = await postPredict(service.url, { text: [text] });
    t.equal(res.status, 200);
    const expected = await direct(text);
    const got = res.body.predictions[0] as { label: string; score: number }[];
    t.same(got.map((p) => p.label).sort(), Object.values(labels).sort(), 'every label of id2label');
    for (const { label, score } of got) {
      t.ok(Math.abs(score - expected[label]) < 1e-5, `${JSON.stringify(text.slice(0, 30))} ${label}: ${score} vs ${expected[label]}`);
    }
    t.ok(got[0].score >= got[1].score, 'sorted by descending score');
  }
});

t.test('texts that share a request stay within the int8 batch tolerance of their solo scores', async (t) => {
  const res = await postPredict(service.url, { text: sentences.slice(0, 6).map((s) => `${s} (batched)`) });
  t.equal(res.status, 200);
  for (const [i, text] of sentences.slice(0, 6).entries()) {
    const expected = await direct(`${text} (batched)`);
    for (const { label, score } of res.body.predictions[i]) {
      // The stand-in README measures at most 0.0147 between solo and batch-of-32 scores.
      t.ok(Math.abs(score - expected[label]) < 0.02, `${label}: ${score} vs ${expected[label]}`);
    }
  }
});
