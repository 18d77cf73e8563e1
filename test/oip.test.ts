// The Open Inference Protocol (KServe v2 / Triton) REST routes against the real service, their responses
// validated against the protocol's published OpenAPI document (test/fixtures/open_inference_rest.yaml).
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { Validator } from '@seriousme/openapi-schema-validator';
import { postPredict, repoRoot, scrape, startRedis, startService } from './helper.js';

const spec = parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'open_inference_rest.yaml'), 'utf8'));
// The document is OpenAPI 3.0 with x- keywords: its schemas are checked as written, not in strict mode.
const ajv = new Ajv.default({ strict: false, allErrors: true });
ajv.addSchema({ ...spec, $id: 'oip' });
const conforms = (t: Test, schema: string, body: unknown, what: string) => {
  const validate = ajv.getSchema(`oip#/components/schemas/${schema}`)!;
  t.ok(validate(body), `${what} is a valid ${schema}`);
  t.same(validate.errors ?? [], [], `${what}: no schema errors`);
};

const redisServer = await startRedis();
const service = await startService({ REDIS_URL: redisServer.url, MAX_TEXTS: '8' });
t.teardown(async () => {
  await service.stop();
  await redisServer.stop();
});
const get = async (path: string) => {
  const res = await fetch(`${service.url}${path}`);
  return { status: res.status, body: await res.json(), headers: res.headers };
};
const info = (await get('/project/info')).body as { labels: string[]; model_id: string | null };
const server = (await get('/v2')).body as { name: string; version: string };
const metadata = (await get('/v2/models/distilbert-sst2-standin')).body as { name: string; versions: string[] };
const NAME = metadata.name;
const VERSION = metadata.versions[0];
const infer = (body: unknown, path = `/v2/models/${NAME}/infer`, headers?: Record<string, string>) =>
  postPredict(service.url, body, { path, ...(headers ? { headers } : {}) });
const textsInput = (texts: string[]) => ({ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts });

t.test('the published document is a valid OpenAPI 3.0 document', async (t) => {
  const result = await new Validator().validate(structuredClone(spec));
  t.same(result.errors ?? [], []);
});

t.test('health, server metadata and model metadata answer in the protocol schemas', async (t) => {
  t.same(await get('/v2/health/live').then((r) => [r.status, r.body]), [200, { live: true }]);
  t.same(await get('/v2/health/ready').then((r) => [r.status, r.body]), [200, { ready: true }]);
  for (const path of ['/v2', '/v2/']) {
    const res = await get(path);
    t.equal(res.status, 200, path);
    conforms(t, 'metadata_server_response', res.body, path);
  }
  t.equal(server.name, 'sentiment-inference-server');
  t.same(metadata, {
    name: 'distilbert-sst2-standin',
    versions: [VERSION],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: 'scores', datatype: 'FP32', shape: [-1, 2] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
  });
  conforms(t, 'metadata_model_response', metadata, 'model metadata');
  t.match(VERSION, /^[0-9a-f]{16}$/, "the version is the model's identity");
  const versioned = await get(`/v2/models/${NAME}/versions/${VERSION}`);
  t.same([versioned.status, versioned.body], [200, metadata], 'the same under its version');
  t.same(await get(`/v2/models/${NAME}/ready`).then((r) => [r.status, r.body]), [200, { name: NAME, ready: true }]);
  t.same(await get(`/v2/models/${NAME}/versions/${VERSION}/ready`).then((r) => r.status), 200);
});

t.test('an unknown model or version is a 404 in the error schema, on every model route', async (t) => {
  for (const path of [
    '/v2/models/other',
    `/v2/models/other/ready`,
    `/v2/models/${NAME}/versions/2`,
    `/v2/models/${NAME}/versions/2/ready`,
  ]) {
    const res = await get(path);
    t.equal(res.status, 404, path);
    conforms(t, 'metadata_model_error_response', res.body, path);
  }
  t.same((await get('/v2/models/other')).body, { error: 'Model other not found' });
  t.same(await get('/v2/no/such/route').then((r) => [r.status, r.body]), [404, { error: 'Not Found' }], 'any unknown /v2 path');
  for (const path of ['/v2/models/other/infer', `/v2/models/${NAME}/versions/2/infer`]) {
    const res = await infer({ inputs: [textsInput(['x'])] }, path);
    t.equal(res.status, 404, path);
    conforms(t, 'inference_error_response', res.body, path);
  }
});

t.test('infer: scores [n, labels] in label-id order and the top label per text; id echoed; parameters tolerated', async (t) => {
  const texts = ['I love this wonderful film', 'A dull and tedious mess'];
  const res = await infer({ id: 'req-42', parameters: { priority: 1 }, inputs: [{ ...textsInput(texts), parameters: { x: true } }] });
  t.equal(res.status, 200);
  conforms(t, 'inference_response', res.body, 'the answer');
  t.equal(res.body.id, 'req-42');
  t.equal(res.body.model_name, NAME);
  t.equal(res.body.model_version, VERSION);
  const [scores, label] = res.body.outputs;
  t.same([scores.name, scores.datatype, scores.shape], ['scores', 'FP32', [2, 2]]);
  t.same([label.name, label.datatype, label.shape, label.data], ['label', 'BYTES', [2], ['POSITIVE', 'NEGATIVE']]);
  const bulk = await postPredict(service.url, { text: texts });
  const expected = bulk.body.predictions.flatMap((list: { label: string; score: number }[]) =>
    info.labels.map((l) => list.find((p) => p.label === l)!.score),
  );
  t.same(scores.data, expected, "the bulk route's scores, each row in /project/info's label order");
  t.equal(res.headers.get('x-cache'), 'miss');
  t.equal(bulk.headers.get('x-cache'), 'hit', 'the routes share the cache');
  const again = await infer({ inputs: [textsInput(texts)] }, `/v2/models/${NAME}/versions/${VERSION}/infer`);
  t.equal(again.headers.get('x-cache'), 'hit', 'a repeat is a hit, also under the versioned path');
  t.notOk('id' in again.body, 'no id when none was sent');
  t.same(again.body.outputs, res.body.outputs);
});

t.test('infer: outputs asked by name, [n, 1] shapes, an empty batch', async (t) => {
  const only = await infer({ inputs: [textsInput(['ok'])], outputs: [{ name: 'label' }] });
  t.same(
    only.body.outputs.map((o: { name: string }) => o.name),
    ['label'],
  );
  const column = await infer({ inputs: [{ name: 'text', shape: [2, 1], datatype: 'BYTES', data: ['a', 'b'] }] });
  t.equal(column.status, 200, 'shape [n, 1] as Triton clients send it');
  const empty = await infer({ inputs: [textsInput([])] });
  t.equal(empty.status, 200);
  t.same(empty.body.outputs[0].shape, [0, 2]);
  conforms(t, 'inference_response', empty.body, 'an empty batch');
});

t.test('bad requests are 400 in the error schema, saying what is wrong', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['no inputs', { id: '1' }, /body must have required property 'inputs'/],
    ['two inputs', { inputs: [textsInput(['a']), textsInput(['b'])] }, /inputs must NOT have more than 1 items/],
    [
      'not BYTES',
      { inputs: [{ name: 'text', shape: [1], datatype: 'FP32', data: [1] }] },
      /inputs\[0\]\.datatype must be equal to constant/,
    ],
    [
      'a number among the texts',
      { inputs: [{ ...textsInput(['a']), data: ['a', 2], shape: [2] }] },
      /inputs\[0\]\.data\[1\] must be string/,
    ],
    ['shape and data disagree', { inputs: [{ ...textsInput(['a', 'b']), shape: [3] }] }, /shape \[3\] does not fit 2 texts/],
    [
      'unknown output',
      { inputs: [textsInput(['a'])], outputs: [{ name: 'logits' }] },
      /outputs\[0\]\.name must be equal to one of the allowed values/,
    ],
    ['too many texts', { inputs: [textsInput(Array(9).fill('x'))] }, /has 9 texts; at most 8/],
  ];
  for (const [name, body, message] of cases) {
    const res = await infer(body);
    t.equal(res.status, 400, name);
    conforms(t, 'inference_error_response', res.body, name);
    t.match(res.body.error, message, name);
  }
  const notJson = await postPredict(service.url, '{"inputs": [', { raw: true, path: `/v2/models/${NAME}/infer` });
  t.same([notJson.status, Object.keys(notJson.body)], [400, ['error']]);
  const wrongType = await infer({ inputs: [] }, `/v2/models/${NAME}/infer`, { 'content-type': 'text/plain' });
  t.same([wrongType.status, Object.keys(wrongType.body)], [415, ['error']]);
});

t.test('request ids are echoed; infer is counted under its own route label', async (t) => {
  const res = await infer({ inputs: [textsInput(['x'])] }, `/v2/models/${NAME}/infer`, {
    'content-type': 'application/json',
    'x-request-id': 'oip-client-7',
  });
  t.equal(res.headers.get('x-request-id'), 'oip-client-7');
  const [ok, bad, notFound] = await scrape(
    service.url,
    'inf_http_requests_total{route="oip-infer",status="200"}',
    'inf_http_requests_total{route="oip-infer",status="400"}',
    'inf_http_requests_total{route="oip-infer",status="404"}',
  );
  t.ok(ok >= 5, `${ok} answered`);
  t.ok(bad >= 8, `${bad} refused`);
  t.equal(notFound, 2, 'the two unknown-model requests');
});
