// Models other than DistilBERT SST-2, over real HTTP: a BERT with token_type_ids, a RoBERTa with a byte-level
// BPE tokenizer padded with id 1, a multi-label head with int32 inputs and a regression head
// (test/fixtures/models/). Each text's scores equal a direct onnxruntime-node run of the standard tokenization.
import t from 'tap';
import { once } from 'node:events';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { postPredict, repoRoot, startService } from './helper.js';
import { FIXTURE_MODELS, loadDirectModel } from './fixture-models.js';

const TOLERANCE = 1e-5;
const texts = [
  'I love this movie!',
  'the worst film ever, terrible acting',
  "it 's a charming and often affecting journey . ",
  '',
  'Ünïcödé — 日本語のテキスト 😀',
  'GREAT   Story,  bad   MUSIC?!',
  // Longer than every fixture's limit: truncation must follow the model, or its position embeddings fail.
  Array.from({ length: 700 }, (_, i) => (i % 3 === 0 ? 'good' : 'boring')).join(' '),
];

// The fixtures' tokenizer.json files are hand-made: transformers.js, a second implementation of the format,
// must read them the same way (truncated as Python's transformers truncates: the closing special token stays).
env.allowRemoteModels = false;
env.localModelPath = join(repoRoot, 'test', 'fixtures', 'models') + '/';

for (const model of FIXTURE_MODELS) {
  t.test(`${model.name}: scores equal the direct run (within ${TOLERANCE}), labels and head follow config.json`, async (t) => {
    const direct = await loadDirectModel(model);
    const reference = await AutoTokenizer.from_pretrained(model.name);
    for (const text of texts) {
      // transformers.js's own truncation drops the closing special token; Python's keeps it, as tokenizers does.
      const full = Array.from(reference(text).input_ids.data as BigInt64Array, Number);
      const truncated = full.length <= model.maxTokens ? full : [...full.slice(0, model.maxTokens - 1), full[full.length - 1]];
      t.same(await direct.ids(text), truncated, `standard tokenization of ${JSON.stringify(text.slice(0, 20))}`);
    }
    const service = await startService({ MODEL_DIR: model.dir, WORKERS: '1' });
    t.teardown(() => service.stop());

    const check = (got: { label: string; score: number }[], expected: Record<string, number>, what: string): void => {
      t.same(got.map((p) => p.label).sort(), [...model.labels].sort(), `${what}: every label of the model`);
      for (const { label, score } of got) {
        t.ok(Math.abs(score - expected[label]) <= TOLERANCE, `${what} ${label}: ${score} vs direct ${expected[label]}`);
      }
      for (let i = 1; i < got.length; i++) t.ok(got[i - 1].score >= got[i].score, `${what}: by descending score`);
      if (model.problemType === 'single_label_classification') {
        t.ok(Math.abs(got.reduce((s, p) => s + p.score, 0) - 1) < 1e-6, `${what}: a softmax sums to 1`);
      }
    };

    for (const text of texts) {
      const res = await postPredict(service.url, { text: [text] });
      t.equal(res.status, 200);
      check(res.body.predictions[0], await direct.scores(text), `alone ${JSON.stringify(text.slice(0, 20))}`);
    }
    // One batch, padded to the longest text with the model's pad id (new texts: the cache holds the ones above).
    const batch = texts.map((text) => `${text} again`);
    const res = await postPredict(service.url, { text: batch });
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-cache'), 'miss');
    for (const [i, text] of batch.entries())
      check(res.body.predictions[i], await direct.scores(text), `batched ${JSON.stringify(text.slice(0, 20))}`);

    const info = await (await fetch(`${service.url}/project/info`)).json();
    t.match(info, {
      problem_type: model.problemType,
      labels: model.labels,
      max_input_length: model.maxTokens,
      model_file: model.onnxFile,
      model_id: null,
    });
  });
}

t.test('multi-label scores are independent sigmoids; the regression head answers its raw output as LABEL_0', async (t) => {
  const [, , multi, regression] = FIXTURE_MODELS;
  for (const model of [multi, regression]) {
    const direct = await loadDirectModel(model);
    const scores = Object.values(await direct.scores('the worst film ever'));
    if (model === multi) t.ok(Math.abs(scores.reduce((a, b) => a + b, 0) - 1) > 0.1, 'sigmoids do not sum to 1');
    else t.same(Object.keys(await direct.scores('x')), ['LABEL_0']);
  }
});

t.test('a model with an input the server cannot fill stops the start with INF_ERR_WORKER_START naming it', async (t) => {
  const service = await startService({ MODEL_DIR: join(repoRoot, 'test', 'fixtures', 'models', 'position-ids') }, { waitHealthy: false });
  const [code] = await once(service.child, 'exit');
  t.equal(code, 1);
  t.match(service.output(), /"code":"INF_ERR_WORKER_START"/);
  t.match(service.output(), /has an input \\?"position_ids\\?" that this server cannot fill/);
});
