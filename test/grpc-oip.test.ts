// The Open Inference Protocol over gRPC (inference.GRPCInferenceService, schemas/grpc/grpc_predict_v2.proto) against
// the real service and a real Redis, through a client generated from the proto: every RPC answers what the HTTP
// /v2 routes answer for the same inputs, in typed and in raw contents, and every error has its status code.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { grpcClient, unary } from './grpc-client.js';
import { postPredict, scrape, startRedis, startService } from './helper.js';

const OIP = ['grpc_predict_v2.proto', 'inference.GRPCInferenceService'] as const;
const METHOD = 'inference.GRPCInferenceService/ModelInfer';
const MAX_MESSAGE_BYTES = 65536;

const redisServer = await startRedis();
const service = await startService({ REDIS_URL: redisServer.url, MAX_TEXTS: '8', GRPC_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) });
const client = grpcClient(...OIP, service.grpcPort);
t.teardown(async () => {
  client.close();
  await service.stop();
  await redisServer.stop();
});

const getJson = async (path: string) => (await fetch(`${service.url}${path}`)).json();
const httpMetadata = (await getJson('/v2/models/distilbert-sst2-standin')) as { name: string; versions: string[]; outputs: unknown[] };
const NAME = httpMetadata.name;
const VERSION = httpMetadata.versions[0];

const utf8 = (texts: string[]) => texts.map((text) => Buffer.from(text, 'utf8'));
const bytesInput = (texts: string[], shape: number[] = [texts.length]) => ({
  name: 'text',
  datatype: 'BYTES',
  shape,
  contents: { bytes_contents: utf8(texts) },
});
/** Triton's raw BYTES layout: each element's 4-byte little-endian length, then its bytes. */
const rawBytes = (elements: Buffer[]) =>
  Buffer.concat(elements.flatMap((bytes) => [Buffer.from(Uint32Array.of(bytes.length).buffer), bytes]));
const splitRaw = (raw: Buffer) => {
  const out: string[] = [];
  for (let at = 0; at < raw.length; ) {
    const length = raw.readUInt32LE(at);
    out.push(raw.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  return out;
};
const fp32 = (raw: Buffer) => Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
const infer = (request: Record<string, unknown>, options = {}) =>
  unary(client, 'ModelInfer', { model_name: NAME, inputs: [], ...request }, options);
const httpInfer = async (texts: string[]) => {
  const res = await postPredict(
    service.url,
    { inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] },
    { path: `/v2/models/${NAME}/infer` },
  );
  const byName = Object.fromEntries(res.body.outputs.map((o: { name: string }) => [o.name, o]));
  return { scores: byName.scores.data as number[], labels: byName.label.data as string[], shape: byName.scores.shape as number[] };
};
const closeTo = (actual: number[], expected: number[]) =>
  actual.length === expected.length && actual.every((value, i) => Math.abs(value - expected[i]) <= 1e-6);

const TEXTS = ['a wonderful, moving film', 'dull and far too long', 'a wonderful, moving film', 'it is a film'];

t.test('ServerLive, ServerReady, ModelReady, ServerMetadata and ModelMetadata answer as the HTTP /v2 routes', async (t) => {
  t.same((await unary(client, 'ServerLive', {})).value, { live: true });
  t.same((await unary(client, 'ServerReady', {})).value, { ready: true });
  t.same((await unary(client, 'ModelReady', { name: NAME })).value, { ready: true });
  t.same((await unary(client, 'ModelReady', { name: NAME, version: VERSION })).value, { ready: true }, 'under its version');
  t.same((await unary(client, 'ServerMetadata', {})).value, await getJson('/v2'));
  t.same((await unary(client, 'ModelMetadata', { name: NAME })).value, httpMetadata);
  t.same((await unary(client, 'ModelMetadata', { name: NAME, version: VERSION })).value, httpMetadata, 'under its version');
});

t.test('ModelInfer with bytes_contents answers the HTTP route scores and labels, in typed contents', async (t) => {
  const http = await httpInfer(TEXTS);
  for (const shape of [[TEXTS.length], [TEXTS.length, 1]]) {
    const { value, metadata } = await infer(
      { id: 'req-7', model_version: VERSION, inputs: [bytesInput(TEXTS, shape)] },
      { metadata: { 'x-request-id': 'grpc-oip-1' } },
    );
    t.equal(value.model_name, NAME);
    t.equal(value.model_version, VERSION);
    t.equal(value.id, 'req-7', 'the id is echoed');
    t.same(value.raw_output_contents, [], 'no raw contents unless asked');
    const [scores, label] = value.outputs;
    t.match(scores, { name: 'scores', datatype: 'FP32', shape: http.shape });
    t.ok(closeTo(scores.contents.fp32_contents, http.scores), `scores within 1e-6 of HTTP's (shape ${JSON.stringify(shape)})`);
    t.match(label, { name: 'label', datatype: 'BYTES', shape: [TEXTS.length] });
    t.same(
      label.contents.bytes_contents.map((b: Buffer) => b.toString()),
      http.labels,
      'labels equal',
    );
    t.equal(metadata?.get('x-request-id')[0], 'grpc-oip-1', "the client's request id comes back");
  }
});

t.test('raw_input_contents in, raw_output_contents out, as Triton lays them out', async (t) => {
  const http = await httpInfer(TEXTS);
  const { value } = await infer({
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [TEXTS.length] }],
    raw_input_contents: [rawBytes(utf8(TEXTS))],
  });
  t.same(
    value.outputs.map((o: { name: string; contents: unknown }) => [o.name, o.contents]),
    [
      ['scores', null],
      ['label', null],
    ],
    'no typed contents beside raw ones',
  );
  const [scores, labels] = value.raw_output_contents;
  t.ok(closeTo(fp32(scores), http.scores), 'raw FP32 scores within 1e-6');
  t.same(splitRaw(labels), http.labels, 'raw BYTES labels');
});

t.test('an output asking for binary_data gets raw contents for every output; requested outputs come in the order asked', async (t) => {
  const http = await httpInfer(TEXTS);
  const { value } = await infer({
    inputs: [bytesInput(TEXTS)],
    outputs: [{ name: 'label', parameters: { binary_data: { bool_param: true } } }, { name: 'scores' }],
  });
  t.same(
    value.outputs.map((o: { name: string }) => o.name),
    ['label', 'scores'],
  );
  t.same(splitRaw(value.raw_output_contents[0]), http.labels);
  t.ok(closeTo(fp32(value.raw_output_contents[1]), http.scores));
  const only = await infer({ inputs: [bytesInput(TEXTS)], outputs: [{ name: 'label' }, { name: 'label' }] });
  t.same(
    only.value.outputs.map((o: { name: string; contents: { bytes_contents: Buffer[] } }) => [
      o.name,
      o.contents.bytes_contents.map(String),
    ]),
    [['label', http.labels]],
    'one output asked (twice): that one, once',
  );
});

t.test('each error has its status code and a message naming what is wrong', async (t) => {
  const cases: [string, Record<string, unknown>, grpc.status, RegExp][] = [
    ['another model', { model_name: 'other', inputs: [bytesInput(['x'])] }, grpc.status.NOT_FOUND, /Model other not found/],
    ['another version', { model_version: '2', inputs: [bytesInput(['x'])] }, grpc.status.NOT_FOUND, /not found/],
    ['no input', {}, grpc.status.INVALID_ARGUMENT, /inputs has 0 tensors/],
    ['two inputs', { inputs: [bytesInput(['x']), bytesInput(['y'])] }, grpc.status.INVALID_ARGUMENT, /inputs has 2 tensors/],
    ['FP32 input', { inputs: [{ ...bytesInput(['x']), datatype: 'FP32' }] }, grpc.status.INVALID_ARGUMENT, /inputs\[0\]\.datatype/],
    ['shape off', { inputs: [bytesInput(['x', 'y'], [3])] }, grpc.status.INVALID_ARGUMENT, /inputs\[0\]\.shape \[3\] does not fit 2 texts/],
    ['shape [n, 2]', { inputs: [bytesInput(['x', 'y'], [1, 2])] }, grpc.status.INVALID_ARGUMENT, /inputs\[0\]\.shape/],
    ['too many texts', { inputs: [bytesInput(Array(9).fill('x'))] }, grpc.status.INVALID_ARGUMENT, /9 texts; at most 8/],
    [
      'raw cut short',
      { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([9, 0, 0, 0, 65])] },
      grpc.status.INVALID_ARGUMENT,
      /raw_input_contents\[0\]: element 0 is 9 bytes long/,
    ],
    [
      'raw beside typed',
      { inputs: [bytesInput(['x'])], raw_input_contents: [rawBytes(utf8(['x']))] },
      grpc.status.INVALID_ARGUMENT,
      /inputs\[0\]\.contents must be empty/,
    ],
    [
      'not UTF-8',
      { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from([0xff, 0xfe])] } }] },
      grpc.status.INVALID_ARGUMENT,
      /bytes_contents\[0\] is not valid UTF-8/,
    ],
    [
      'unknown output',
      { inputs: [bytesInput(['x'])], outputs: [{ name: 'logits' }] },
      grpc.status.INVALID_ARGUMENT,
      /outputs\[0\]\.name "logits"/,
    ],
    ['message too large', { inputs: [bytesInput(['x'.repeat(MAX_MESSAGE_BYTES)])] }, grpc.status.RESOURCE_EXHAUSTED, /larger than max/],
  ];
  for (const [what, request, code, details] of cases) {
    const { error } = await infer(request, { metadata: { 'x-request-id': `error-${cases.findIndex((c) => c[0] === what)}` } });
    t.equal(error?.code, code, `${what}: ${grpc.status[code]}`);
    t.match(error?.details, details, `${what}: ${error?.details}`);
  }
  const { error } = await infer({ model_name: 'other', inputs: [bytesInput(['x'])] }, { metadata: { 'x-request-id': 'not-found-1' } });
  t.equal(error?.metadata.get('x-request-id')[0], 'not-found-1', "an error's trailers carry the request id");
  t.same((await unary(client, 'ModelMetadata', { name: 'other' })).error?.code, grpc.status.NOT_FOUND, 'ModelMetadata of another model');
  t.same(
    (await unary(client, 'ModelReady', { name: NAME, version: '2' })).error?.code,
    grpc.status.NOT_FOUND,
    'ModelReady of another version',
  );
  t.same((await unary(client, 'ServerLive', {})).value, { live: true }, 'the service is unharmed');
});

t.test('a client deadline too short for the model ends the call DEADLINE_EXCEEDED; the service is unharmed', async (t) => {
  const texts = Array.from({ length: 8 }, (_, i) => `a deadline too short for text ${i} ${'and words '.repeat(40)}`);
  const { error } = await infer({ inputs: [bytesInput(texts)] }, { deadlineMs: 1 });
  t.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
  t.ok((await infer({ inputs: [bytesInput(['after the deadline'])] })).value, 'the next call is answered');
});

t.test('metrics count the calls by method and code', async (t) => {
  const [ok, invalid, notFound, metadata] = await scrape(
    service.url,
    `inf_grpc_requests_total{method="${METHOD}",code="OK"}`,
    `inf_grpc_requests_total{method="${METHOD}",code="INVALID_ARGUMENT"}`,
    `inf_grpc_requests_total{method="${METHOD}",code="NOT_FOUND"}`,
    'inf_grpc_requests_total{method="inference.GRPCInferenceService/ModelMetadata",code="OK"}',
  );
  t.ok(ok >= 5, `${ok} answered`);
  t.ok(invalid >= 10, `${invalid} invalid`);
  t.ok(notFound >= 2, `${notFound} not found`);
  t.ok(metadata >= 2, `${metadata} model metadata`);
  const [count] = await scrape(service.url, `inf_grpc_request_duration_seconds_count{method="${METHOD}",code="OK"}`);
  t.equal(count, ok, 'one duration per call');
  const lines = service
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"rpc"') && line.includes('"reqId":"not-found-1"'));
  t.equal(lines.length, 1, 'one log line per call');
  t.match(JSON.parse(lines[0]), { level: 30, method: METHOD, code: 'NOT_FOUND' }, "a client's error is logged at info");
});

t.test('with API keys, ModelInfer needs `authorization: Bearer <key>` metadata; the health methods do not', async (t) => {
  const keyed = await startService({ API_KEYS: 'grpc-key-1' });
  const keyedClient = grpcClient(...OIP, keyed.grpcPort);
  t.teardown(async () => {
    keyedClient.close();
    await keyed.stop();
  });
  const request = { model_name: NAME, inputs: [bytesInput(['a key'])] };
  const none = await unary(keyedClient, 'ModelInfer', request);
  t.equal(none.error?.code, grpc.status.UNAUTHENTICATED, 'no key');
  t.match(none.error?.details, /Not authenticated/);
  const wrong = await unary(keyedClient, 'ModelInfer', request, { metadata: { authorization: 'Bearer wrong-key' } });
  t.equal(wrong.error?.code, grpc.status.UNAUTHENTICATED, 'a wrong key');
  t.match(wrong.error?.details, /Invalid API key/);
  t.ok((await unary(keyedClient, 'ModelInfer', request, { metadata: { authorization: 'Bearer grpc-key-1' } })).value, 'the key');
  t.same((await unary(keyedClient, 'ServerReady', {})).value, { ready: true }, 'health needs no key');
});

t.test('a burst far above the queue limit gets some RESOURCE_EXHAUSTED with retry-after, every other call its answer', async (t) => {
  const small = await startService({ WORKERS: '1', MAX_QUEUE_TOKENS: '512', REQUEST_TIMEOUT_MS: '120000' });
  const smallClient = grpcClient(...OIP, small.grpcPort);
  t.teardown(async () => {
    smallClient.close();
    await small.stop();
  });
  const results = await Promise.all(
    Array.from({ length: 80 }, (_, r) =>
      unary(smallClient, 'ModelInfer', {
        model_name: NAME,
        inputs: [bytesInput(Array.from({ length: 4 }, (_, k) => `overload ${r}.${k}: a ${k % 2 ? 'bad' : 'fine'} day`))],
      }),
    ),
  );
  const refused = results.filter((r) => r.error);
  t.ok(refused.length > 0, `${refused.length} refused`);
  t.ok(results.length - refused.length > 0, `${results.length - refused.length} answered`);
  for (const { error } of refused) {
    t.equal(error?.code, grpc.status.RESOURCE_EXHAUSTED);
    t.equal(error?.details, 'Server overloaded');
    t.match(error?.metadata.get('retry-after')[0], /^[1-9][0-9]*$/, 'retry-after: whole seconds');
  }
  const [counted] = await scrape(small.url, `inf_grpc_requests_total{method="${METHOD}",code="RESOURCE_EXHAUSTED"}`);
  t.equal(counted, refused.length, 'each refusal is counted');
});
