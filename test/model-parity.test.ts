// The service's scores are the model's: the same text run directly through onnxruntime-node here.
import t from 'tap';
import { postPredict, startService } from './helper.js';
import { BATCH_TOLERANCE, directScores as direct, id2label as labels } from './direct-model.js';

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
      t.ok(Math.abs(score - expected[label]) < BATCH_TOLERANCE, `${label}: ${score} vs ${expected[label]}`);
    }
  }
});
