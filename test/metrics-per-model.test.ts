// /metrics of a model repository: the queue, batch, tokenization and cache series carry the model's name in a
// `model` label, and a request to one model moves that model's series only. The real service with two real
// models, asked by name over gRPC (inference.GRPCInferenceService) and without a name over HTTP (the default).
import t from 'tap';
import { grpcClient, unary } from './grpc-client.js';
import { postPredict, scrapeMetrics, startService } from './helper.js';
import { delta, sampleIn } from './metrics-scrape.js';
import { twoModelRepository } from './model-repository-dir.js';

const MODELS = ['sentiment', 'nli'] as const;

const repository = await twoModelRepository();
const service = await startService({ ...repository.env, WORKERS: '1' });
const client = grpcClient('grpc_predict_v2.proto', 'inference.GRPCInferenceService', service.grpcPort);
t.teardown(async () => {
  client.close();
  await service.stop();
  await repository.remove();
});

/** `sample` of one model's series: its labels and the model's. */
const ofModel = (sample: string, model: string) =>
  sample.includes('{') ? sample.replace('{', `{model="${model}",`) : `${sample}{model="${model}"}`;
const infer = (model: string, texts: string[]) =>
  unary(client, 'ModelInfer', {
    model_name: model,
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], contents: { bytes_contents: texts.map((x) => Buffer.from(x)) } }],
  });

t.test("every model's queue and cache gauges are there, each under its name", async (t) => {
  const scraped = await scrapeMetrics(service.url);
  for (const model of MODELS) {
    for (const gauge of ['inf_queue_texts', 'inf_queue_tokens', 'inf_queue_predicted_wait_seconds', 'inf_cache_memory_entries']) {
      t.equal(sampleIn(scraped, ofModel(gauge, model)), 0, `${gauge}{model="${model}"}: idle, empty`);
    }
  }
});

t.test("a request to each model moves that model's batch, queue, tokenization and cache series, and not the other's", async (t) => {
  for (const [i, model] of MODELS.entries()) {
    const other = MODELS[1 - i];
    const texts = Array.from({ length: 3 }, (_, n) => `a new text for ${model}, number ${n}`);
    const before = await scrapeMetrics(service.url);
    const answer = await infer(model, texts);
    t.notOk(answer.error, `${model} answered (${answer.error?.details ?? 'OK'})`);
    const after = await scrapeMetrics(service.url);
    const moved = (sample: string, of: string = model) => delta(before, after, ofModel(sample, of));
    t.equal(moved('inf_cache_lookups_total{result="miss"}'), texts.length, `${model}: its texts missed its cache`);
    t.equal(moved('inf_batch_size_sum'), texts.length, `${model}: its batches ran its texts`);
    t.equal(moved('inf_queue_wait_seconds_count'), texts.length, `${model}: a queue wait per text`);
    t.ok(moved('inf_inference_duration_seconds_count') >= 1, `${model}: its model runs`);
    t.ok(moved('inf_batch_padded_tokens_count') >= 1, `${model}: their padded tokens`);
    t.equal(moved('inf_tokenize_duration_seconds_count'), 1, `${model}: its tokenization`);
    t.equal(moved('inf_cache_memory_entries'), texts.length, `${model}: its in-process tier holds them`);
    for (const sample of ['inf_cache_lookups_total{result="miss"}', 'inf_batch_size_sum', 'inf_tokenize_duration_seconds_count']) {
      t.equal(moved(sample, other), 0, `${other}: ${sample.replace('', '')} unmoved`);
    }
  }
});

t.test("the routes without a name count under the default model, a memo answer's texts too", async (t) => {
  const body = { text: ['a text for the default model'] };
  const before = await scrapeMetrics(service.url);
  // A miss, a cache hit (memoized), then the memo's answer.
  for (let i = 0; i < 3; i++) t.equal((await postPredict(service.url, body)).status, 200);
  const after = await scrapeMetrics(service.url);
  t.equal(delta(before, after, 'inf_response_memo_hits_total'), 1, 'the third answered from the memo');
  t.equal(delta(before, after, 'inf_cache_lookups_total{result="miss",model="sentiment"}'), 1, 'the first missed');
  t.equal(delta(before, after, 'inf_cache_lookups_total{result="memory_hit",model="sentiment"}'), 2, 'the second and the memo hit memory');
  t.equal(delta(before, after, 'inf_cache_lookups_total{model="nli"}'), 0, 'nothing for the other model');
});
