// The check of values read from Redis accepts everything the formatter writes, for any logits, and nothing
// else: a false refusal would turn every Redis hit into a model run.
import t from 'tap';
import { createPredictionCheck } from '../../dist/src/cache/prediction-check.js';
import { createPredictionFormatter } from '../../dist/src/inference/prediction-format.js';

t.test('every prediction the formatter writes passes, also with ties, saturated scores and three labels', async (t) => {
  for (const labels of [['NEGATIVE', 'POSITIVE'], ['a', 'b', 'c'], ['only']]) {
    const format = createPredictionFormatter(labels);
    const isValid = createPredictionCheck(labels);
    const rows = [
      [0, 0, 0],
      [100, -100, 0],
      [-100, 100, 0],
      [1e-7, 0, 3],
      [88, 88, -88],
      [3.25, -1.5, 0.1],
    ];
    for (let i = 0; i < 500; i++) rows.push([0, 0, 0].map(() => (Math.random() - 0.5) * 40));
    const failures = rows.map((row) => format(Float32Array.from(row.slice(0, labels.length)), 0)).filter((json) => !isValid(json));
    t.same(failures, [], `${labels.length} label(s): all ${rows.length} pass`);
  }
});

t.test("the other model's labels, or another label order, do not pass", async (t) => {
  const written = createPredictionFormatter(['NEGATIVE', 'POSITIVE'])(Float32Array.from([1, 1]), 0);
  t.ok(createPredictionCheck(['NEGATIVE', 'POSITIVE'])(written), 'the model that wrote it');
  t.notOk(createPredictionCheck(['LABEL_0', 'LABEL_1'])(written), 'other labels');
  t.notOk(createPredictionCheck(['POSITIVE', 'NEGATIVE'])(written), 'a tie in the other label-id order');
});
