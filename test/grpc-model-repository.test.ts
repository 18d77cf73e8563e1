// A model repository over gRPC: inference.GRPCInferenceService serves every model of MODEL_REPOSITORY by its
// model_name, each answering exactly as the same model served alone (its own process, MODEL_DIR), and tei.v1
// (whose messages name no model) serves the default one. The repository's service runs in process, so a test can
// unload and load a model as the repository extension does.
import t from 'tap';
import pino from 'pino';
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../dist/src/config.js';
import { startService as startInProcess } from '../dist/src/service.js';
import { grpcClient, unary } from './grpc-client.js';
import { freePort, startService } from './helper.js';
import { REPOSITORY_MODELS, twoModelRepository } from './model-repository-dir.js';

const OIP = ['grpc_predict_v2.proto', 'inference.GRPCInferenceService'] as const;
const TEXTS = ['a wonderful, moving film', 'dull and far too long', 'it is a film'];

const repository = await twoModelRepository();
const config = loadConfig({ ...repository.env, PORT: '0', GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', WORKERS: '1' });
const [service, sentimentAlone, nliAlone] = await Promise.all([
  startInProcess(config, pino({ level: 'silent' })),
  startService({}, { name: 'sentiment alone' }),
  startService({ MODEL_DIR: REPOSITORY_MODELS.nli }, { name: 'nli alone' }),
]);
await service.ready;
const client = grpcClient(...OIP, service.grpcPort!);
const predict = grpcClient('tei.proto', 'tei.v1.Predict', service.grpcPort!);
const alone = {
  sentiment: { client: grpcClient(...OIP, sentimentAlone.grpcPort), name: 'distilbert-sst2-standin', process: sentimentAlone },
  nli: { client: grpcClient(...OIP, nliAlone.grpcPort), name: 'nli-pair', process: nliAlone },
};
t.teardown(async () => {
  for (const c of [client, predict, alone.sentiment.client, alone.nli.client]) c.close();
  await Promise.all([service.shutdown(), sentimentAlone.stop(), nliAlone.stop()]);
  await repository.remove();
});

const bytesInput = (texts: string[]) => ({
  name: 'text',
  datatype: 'BYTES',
  shape: [texts.length],
  contents: { bytes_contents: texts.map((text) => Buffer.from(text, 'utf8')) },
});
const infer = (on: typeof client, name: string, texts: string[], version = '') =>
  unary(on, 'ModelInfer', { model_name: name, model_version: version, inputs: [bytesInput(texts)] });
const closeTo = (actual: number[], expected: number[]) =>
  actual.length === expected.length && actual.every((value, i) => Math.abs(value - expected[i]) <= 1e-6);
type Tensor = { name: string; shape: number[]; contents: { fp32_contents: number[]; bytes_contents: Buffer[] } };
const outputsOf = (value: { outputs: Tensor[] }) => {
  const [scores, label] = value.outputs;
  return { scores: scores.contents.fp32_contents, shape: scores.shape, labels: label.contents.bytes_contents.map(String) };
};

for (const name of ['sentiment', 'nli'] as const) {
  t.test(`${name}: ModelInfer by its name answers as the model served alone`, async (t) => {
    const served = await infer(client, name, TEXTS);
    const single = await infer(alone[name].client, alone[name].name, TEXTS);
    t.notOk(served.error, `answered (${served.error?.details ?? 'OK'})`);
    const [ours, theirs] = [outputsOf(served.value), outputsOf(single.value)];
    t.equal(served.value.model_name, name, 'the model named');
    t.equal(served.value.model_version, single.value.model_version, 'the same version: the same model id');
    t.same(ours.shape, [TEXTS.length, name === 'nli' ? 3 : 2], 'a score per label');
    t.ok(closeTo(ours.scores, theirs.scores), 'scores within 1e-6 of the model served alone');
    t.same(ours.labels, theirs.labels, 'the same labels');
    const underVersion = await infer(client, name, TEXTS, served.value.model_version);
    t.ok(closeTo(outputsOf(underVersion.value).scores, theirs.scores), 'under its version too');
  });

  t.test(`${name}: ModelReady and ModelMetadata answer for it, as the model served alone`, async (t) => {
    const metadata = (await unary(client, 'ModelMetadata', { name })).value;
    const single = (await unary(alone[name].client, 'ModelMetadata', { name: alone[name].name })).value;
    t.same(metadata, { ...single, name }, 'its metadata under its name');
    t.same((await unary(client, 'ModelReady', { name })).value, { ready: true });
    t.same((await unary(client, 'ModelReady', { name, version: metadata.versions[0] })).value, { ready: true }, 'under its version');
    const otherVersion = await unary(client, 'ModelReady', { name, version: 'not-its-version' });
    t.equal(otherVersion.error?.code, grpc.status.NOT_FOUND, 'another version: NOT_FOUND');
  });
}

t.test('an unknown model name is NOT_FOUND naming it, in every method', async (t) => {
  const unknown = await infer(client, 'no-such-model', ['x']);
  t.equal(unknown.error?.code, grpc.status.NOT_FOUND);
  t.match(unknown.error?.details, /Model no-such-model not found/);
  for (const method of ['ModelMetadata', 'ModelReady']) {
    const { error } = await unary(client, method, { name: 'no-such-model' });
    t.equal(error?.code, grpc.status.NOT_FOUND, `${method}: NOT_FOUND`);
    t.match(error?.details, /no-such-model/, `${method}: ${error?.details}`);
  }
});

t.test('tei.v1.Predict serves the default model', async (t) => {
  const text = TEXTS[0];
  const served = await unary(predict, 'Predict', { inputs: text });
  const teiAlone = grpcClient('tei.proto', 'tei.v1.Predict', sentimentAlone.grpcPort);
  t.teardown(() => teiAlone.close());
  const single = await unary(teiAlone, 'Predict', { inputs: text });
  const scoresOf = (value: { predictions: { label: string; score: number }[] }) => value.predictions.map((p) => [p.label, p.score]);
  t.same(
    scoresOf(served.value).map(([label]) => label),
    scoresOf(single.value).map(([label]) => label),
    'the sentiment labels',
  );
  t.ok(
    closeTo(
      served.value.predictions.map((p: { score: number }) => p.score),
      single.value.predictions.map((p: { score: number }) => p.score),
    ),
    'scores within 1e-6 of the sentiment model served alone',
  );
});

t.test('the default model unloaded: tei.v1 is NOT_FOUND naming it, the other model serves; loaded again, both serve', async (t) => {
  await service.repository.unload('sentiment');
  const tei = await unary(predict, 'Predict', { inputs: TEXTS[0] });
  t.equal(tei.error?.code, grpc.status.NOT_FOUND, 'tei.v1.Predict: NOT_FOUND');
  t.match(tei.error?.details, /Model sentiment not found/);
  t.equal((await infer(client, 'sentiment', TEXTS)).error?.code, grpc.status.NOT_FOUND, 'ModelInfer of the unloaded model');
  t.notOk((await infer(client, 'nli', TEXTS)).error, 'the other model still answers');

  await service.repository.load('sentiment');
  t.notOk((await unary(predict, 'Predict', { inputs: TEXTS[0] })).error, 'tei.v1.Predict serves it again');
  const back = await infer(client, 'sentiment', TEXTS);
  const single = await infer(alone.sentiment.client, alone.sentiment.name, TEXTS);
  t.ok(closeTo(outputsOf(back.value).scores, outputsOf(single.value).scores), 'ModelInfer answers as before');
});
