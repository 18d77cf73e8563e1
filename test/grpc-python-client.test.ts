// A second, independent gRPC client: Debian's python3-grpcio, with stubs that Debian's protoc and
// grpc_python_plugin generate from schemas/grpc, against the real service (real Redis, the real model). Its answers
// must be the HTTP routes' answers for the same texts. The client is test/fixtures/grpc_client.py; .ci/run installs
// the packages.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { postPredict, repoRoot, STANDIN_MODEL_DIR, startRedis, startService } from './helper.js';

const run = promisify(execFile);
// Debian's interpreter: the one python3-grpcio and python3-protobuf install into (a pyenv or venv python3 first
// on PATH does not see them).
const DEBIAN_PYTHON = '/usr/bin/python3';
const PROTO_DIR = join(repoRoot, 'schemas', 'grpc');
const PROTOS = ['grpc_predict_v2.proto', 'health.proto', 'tei.proto'];
const CLIENT = join(repoRoot, 'test', 'fixtures', 'grpc_client.py');
// ASCII and not: the texts travel as UTF-8 bytes in BYTES tensors.
const TEXTS = ['I love you!', 'Ce film était épouvantable 😞'];
const TOLERANCE = 1e-6;

/** The absolute path of a program on PATH, or undefined. */
function onPath(program: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, program))
    .find((path) => existsSync(path));
}

const protoc = onPath('protoc');
const plugin = onPath('grpc_python_plugin');
const missing = [!protoc && 'protoc', !plugin && 'grpc_python_plugin', !existsSync(DEBIAN_PYTHON) && DEBIAN_PYTHON].filter(Boolean);
if (missing.length > 0)
  throw new Error(
    `${missing.join(', ')} missing: apt-get install python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc (.ci/run does)`,
  );

const stubs = t.testdir();
await run(protoc!, [
  `--python_out=${stubs}`,
  `--grpc_out=${stubs}`,
  `--plugin=protoc-gen-grpc=${plugin}`,
  '-I',
  PROTO_DIR,
  ...PROTOS.map((proto) => join(PROTO_DIR, proto)),
]);

const redis = await startRedis();
const service = await startService({ REDIS_URL: redis.url });
t.teardown(async () => {
  await service.stop();
  await redis.stop();
});

// The stand-in's model name on the Open Inference Protocol: its directory's name (docs/api.md).
const MODEL = basename(STANDIN_MODEL_DIR);
const { stdout } = await run(DEBIAN_PYTHON, [
  CLIENT,
  ...['--stubs', stubs, '--target', `127.0.0.1:${service.grpcPort}`, '--model', MODEL],
  ...TEXTS.flatMap((text) => ['--text', text]),
]);
// any: the client's JSON is whatever the server answered; the assertions read named fields.
const answers: Record<string, any> = JSON.parse(stdout);

async function getJson(t: Test, path: string): Promise<any> {
  const res = await fetch(`${service.url}${path}`);
  t.equal(res.status, 200, `GET ${path}`);
  return res.json();
}

/** Labels equal, scores within TOLERANCE, shapes equal. */
function sameTensor(t: Test, got: { datatype: string; shape: number[]; data: unknown[] }, want: any, what: string): void {
  t.equal(got.datatype, want.datatype, `${what}: datatype`);
  t.same(got.shape.map(Number), want.shape, `${what}: shape`);
  if (want.datatype !== 'FP32') return void t.same(got.data, want.data, `${what}: values`);
  t.equal(got.data.length, want.data.length, `${what}: as many values`);
  const worst = Math.max(...want.data.map((value: number, i: number) => Math.abs(value - (got.data[i] as number))));
  t.ok(worst <= TOLERANCE, `${what}: within ${TOLERANCE} (${worst})`);
}

t.test('Health Check, ServerLive, ServerReady and ModelReady answer that the warm service serves.', async (t) => {
  t.same(answers.health, { status: 'SERVING' });
  t.same(answers.server_live, { live: true });
  t.same(answers.server_ready, { ready: true });
  t.same(answers.model_ready, { ready: true });
});

t.test('ServerMetadata and ModelMetadata say what the HTTP routes say.', async (t) => {
  const server = await getJson(t, '/v2');
  t.same(
    { name: answers.server_metadata.name, version: answers.server_metadata.version, extensions: answers.server_metadata.extensions ?? [] },
    { name: server.name, version: server.version, extensions: server.extensions },
  );
  const model = await getJson(t, `/v2/models/${MODEL}`);
  // int64 shapes come out of protobuf's JSON form as strings.
  const tensors = (list: { name: string; datatype: string; shape: (string | number)[] }[]) =>
    list.map(({ name, datatype, shape }) => ({ name, datatype, shape: shape.map(Number) }));
  const { name, versions, platform, inputs, outputs } = answers.model_metadata;
  t.same({ name, versions, platform, inputs: tensors(inputs), outputs: tensors(outputs) }, model);
});

t.test('ModelInfer answers the labels and scores of the HTTP route, from the tensor contents or raw_input_contents.', async (t) => {
  const http = await postPredict(
    service.url,
    { inputs: [{ name: 'text', shape: [TEXTS.length], datatype: 'BYTES', data: TEXTS }] },
    { path: `/v2/models/${MODEL}/infer` },
  );
  t.equal(http.status, 200, http.text);
  for (const key of ['infer', 'infer_raw_input']) {
    const grpc = answers[key];
    t.same(
      { model_name: grpc.model_name, model_version: grpc.model_version },
      { model_name: http.body.model_name, model_version: http.body.model_version },
      `${key}: the model and its version`,
    );
    t.same(Object.keys(grpc.outputs).sort(), ['label', 'scores'], `${key}: both outputs`);
    for (const want of http.body.outputs) sameTensor(t, grpc.outputs[want.name], want, `${key}: ${want.name}`);
  }
  t.equal(answers.infer.id, 'python-client', 'the request id is echoed');
  t.equal(answers.infer.raw, false, 'texts in the tensor contents: outputs in the tensor contents');
  t.equal(answers.infer_raw_input.raw, true, 'texts in raw_input_contents: outputs in raw_output_contents, as Triton answers');
  t.same(answers.infer_other_model.code, 'NOT_FOUND', 'another model is NOT_FOUND');
});

t.test("tei.v1.Predict/Predict answers each text as TEI's HTTP /predict does.", async (t) => {
  t.equal(answers.tei_predict.length, TEXTS.length);
  for (const [i, text] of TEXTS.entries()) {
    const http = await postPredict(service.url, { inputs: text }, { path: '/predict' });
    t.equal(http.status, 200, http.text);
    const grpc: { label: string; score: number }[] | undefined = answers.tei_predict[i].predictions;
    if (!grpc) return void t.fail(`${text}: no predictions: ${JSON.stringify(answers.tei_predict[i])}`);
    t.same(
      grpc.map((p) => p.label),
      http.body.map((p: { label: string }) => p.label),
      `${text}: the labels, in the same order`,
    );
    const worst = Math.max(...http.body.map((p: { score: number }, j: number) => Math.abs(p.score - grpc[j]!.score)));
    t.ok(worst <= TOLERANCE, `${text}: scores within ${TOLERANCE} (${worst}; TEI's score is a float32)`);
  }
});
