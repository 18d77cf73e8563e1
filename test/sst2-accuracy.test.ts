// Accuracy over HTTP on the SST-2 dev set equals the model's own offline accuracy: a wrong tokenizer,
// padding, attention mask or label mapping would move it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLabelledSentences } from '../dist/bench/lib/corpus.js';
import { postPredict, SST2_DEV_TSV, startService, STANDIN_MODEL_DIR } from './helper.js';

const metrics = JSON.parse(readFileSync(join(STANDIN_MODEL_DIR, 'metrics.json'), 'utf8'));
const rows = readLabelledSentences(SST2_DEV_TSV);

const topLabel = (prediction: { label: string }[]): boolean => prediction[0].label === 'POSITIVE';

// No cache: every sentence reaches the model in both passes.
// A generous deadline: the machine is shared, and this test is about scores, not speed.
// The file's model as it is, whose offline accuracy the stand-in's metrics.json gives; the default
// (PER_ROW_QUANTIZATION) model's accuracy through HTTP is checked in batch-invariance.test.ts.
const service = await startService({
  WORKERS: '2',
  CACHE_LRU_ENTRIES: '0',
  REQUEST_TIMEOUT_MS: '120000',
  MAX_QUEUE_DELAY_MS: '120000',
  PER_ROW_QUANTIZATION: 'false',
});
t.teardown(() => service.stop());

t.test('the dev set has its 872 sentences', async (t) => {
  t.equal(rows.length, 872);
});

t.test('one sentence at a time, accuracy equals the model README figure exactly', async (t) => {
  let correct = 0;
  for (const row of rows) {
    const res = await postPredict(service.url, { text: [row.sentence] });
    if (res.status !== 200) t.fail(`status ${res.status} for ${row.sentence}`);
    if (topLabel(res.body.predictions[0]) === row.positive) correct++;
  }
  const accuracy = correct / rows.length;
  t.equal(accuracy.toFixed(4), metrics.dev_accuracy, `accuracy ${(accuracy * 100).toFixed(2)} %`);
});

t.test('sentences sharing batches across concurrent requests stay within 0.5 points', async (t) => {
  const requests: (typeof rows)[] = [];
  for (let i = 0; i < rows.length; i += 8) requests.push(rows.slice(i, i + 8));
  const results = await Promise.all(requests.map((chunk) => postPredict(service.url, { text: chunk.map((r) => r.sentence) })));
  let correct = 0;
  results.forEach((res, k) => {
    t.equal(res.status, 200, res.text.slice(0, 200));
    res.body.predictions.forEach((p: { label: string }[], i: number) => {
      if (topLabel(p) === requests[k][i].positive) correct++;
    });
  });
  const accuracy = correct / rows.length;
  t.ok(
    Math.abs(accuracy - Number(metrics.dev_accuracy)) <= 0.005,
    `batched accuracy ${(accuracy * 100).toFixed(2)} % vs ${metrics.dev_accuracy}`,
  );
});
