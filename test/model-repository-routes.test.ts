// Every HTTP protocol by model name: one service serves a repository of two real models (the stand-in sentiment
// model as `sentiment`, the default, and the nli-pair fixture as `nli`: other labels, token_type_ids), and each
// model answers by name on every route exactly as the same model served alone (MODEL_DIR) does, within 1e-6;
// the routes that name no model serve the default; an unknown name is a 404 in each family's error shape, and so
// is the default model's on the routes that name none once it is unloaded.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import pino from 'pino';
import { type PredictAnswer, postPredict, type ServiceProcess, STANDIN_MODEL_DIR, startAll, startService } from './helper.js';
import { PAIR_FIXTURE_MODELS } from './fixture-models.js';
import { REPOSITORY_MODELS, twoModelRepository } from './model-repository-dir.js';
import { loadConfig } from '../dist/src/config.js';
import { startService as startRepositoryService } from '../dist/src/service.js';

const TOLERANCE = 1e-6;
const NLI_DIR = REPOSITORY_MODELS.nli;
const repositoryDir = await twoModelRepository();

// The in-process cache only; gRPC is not what this test is about. The repository's service runs in this process,
// so the last test can unload its default model.
const common = { WORKERS: '1', GRPC_PORT: '0', MAX_TEXTS: '16' };
const started: ServiceProcess[] = [];
const service = await startRepositoryService(
  loadConfig({ ...common, ...repositoryDir.env, PORT: '0', HOST: '127.0.0.1' }),
  pino({ level: 'silent' }),
);
t.teardown(async () => {
  await Promise.all([service.shutdown(), ...started.map((alone) => alone.stop())]);
  await repositoryDir.remove();
});
const [sentimentAlone, nliAlone] = (await startAll(
  [
    () => startService({ ...common, MODEL_DIR: STANDIN_MODEL_DIR }, { name: 'sentiment alone' }),
    () => startService({ ...common, MODEL_DIR: NLI_DIR }, { name: 'nli alone' }),
  ],
  started,
)) as ServiceProcess[];
await service.ready;
const repository: Server = { url: `http://127.0.0.1:${service.port}` };

interface Case {
  readonly name: string;
  readonly alone: Server;
  /** The model's name where it is served alone (the Open Inference Protocol's: its directory's). */
  readonly aloneName: string;
  readonly labels: readonly string[];
}
const MODELS: readonly Case[] = [
  { name: 'sentiment', alone: sentimentAlone, aloneName: 'distilbert-sst2-standin', labels: ['NEGATIVE', 'POSITIVE'] },
  { name: 'nli', alone: nliAlone, aloneName: 'nli-pair', labels: PAIR_FIXTURE_MODELS.nli.labels },
];
const TEXTS = ['I love this wonderful film', 'A dull and tedious mess', 'it is fun', 'Ünïcödé — 日本語 😀', ''];

// TEI refuses an empty text.
const TEI_INPUTS = TEXTS.filter((text) => text !== '').map((text) => [text]);

type Item = { label: string; score: number };
const get = async (url: string, path: string) => {
  const res = await fetch(`${url}${path}`);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
};
type Server = { readonly url: string };
const post = (server: Server, path: string, body: unknown): Promise<PredictAnswer> => postPredict(server.url, body, { path });
const oipBody = (texts: readonly string[]) => ({ inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] });

/** Lists of {label, score} equal label for label, in the same order, each score within TOLERANCE. */
function sameLists(t: Test, got: Item[][], want: Item[][], what: string): void {
  t.equal(got.length, want.length, `${what}: one list per input`);
  let worst = 0;
  got.forEach((list, i) => {
    t.same(
      list.map((p) => p.label),
      want[i].map((p) => p.label),
      `${what}: input ${i}'s labels in the same order`,
    );
    list.forEach((p, k) => (worst = Math.max(worst, Math.abs(p.score - want[i][k].score))));
  });
  t.ok(worst <= TOLERANCE, `${what}: max diff ${worst.toExponential(2)}`);
}

/** Numbers equal within TOLERANCE, element by element. */
function sameNumbers(t: Test, got: number[], want: number[], what: string): void {
  t.equal(got.length, want.length, `${what}: as many numbers`);
  const worst = Math.max(0, ...got.map((x, i) => Math.abs(x - want[i])));
  t.ok(worst <= TOLERANCE, `${what}: max diff ${worst.toExponential(2)}`);
}

/** Each request answers 404 with the expected body (the family's error shape). */
async function expectNotFound(t: Test, cases: readonly [string, 'GET' | 'POST', unknown, unknown][]): Promise<void> {
  for (const [path, method, body, expected] of cases) {
    const res =
      method === 'GET'
        ? await get(repository.url, path)
        : await post(repository, path, body).then((r) => ({ status: r.status, body: r.body }));
    t.same([res.status, res.body], [404, expected], `${method} ${path}`);
  }
}

t.test('GET /project/models lists both models, the default first, with their versions and labels', async (t) => {
  const { status, body } = await get(repository.url, '/project/models');
  t.equal(status, 200);
  const versions = await Promise.all(MODELS.map(async (m) => (await get(m.alone.url, `/v2/models/${m.aloneName}`)).body.versions[0]));
  t.same(body, [
    { name: 'sentiment', version: versions[0], state: 'READY', labels: MODELS[0].labels, default: true },
    { name: 'nli', version: versions[1], state: 'READY', labels: MODELS[1].labels, default: false },
  ]);
  t.not(versions[0], versions[1], 'two models, two versions');
});

for (const model of MODELS) {
  t.test(`${model.name}: by name on every HTTP protocol, as when served alone`, async (t) => {
    const named = await post(repository, `/project/models/${model.name}/bulk-predict`, { text: TEXTS });
    const alone = await post(model.alone, '/project/bulk-predict', { text: TEXTS });
    t.same([named.status, alone.status], [200, 200]);
    t.same(named.body.predictions[0].map((p: Item) => p.label).sort(), [...model.labels].sort(), "the model's own labels");
    sameLists(t, named.body.predictions, alone.body.predictions, 'bulk-predict');

    const hf = await post(repository, `/models/${model.name}`, { inputs: TEXTS });
    const hfAlone = await post(model.alone, '/', { inputs: TEXTS });
    t.equal(hf.status, 200);
    sameLists(t, hf.body, hfAlone.body, 'HF POST /models/{name}');
    const topOne = await post(repository, `/models/${model.name}`, {
      inputs: TEXTS[0],
      parameters: { top_k: 1, function_to_apply: 'none' },
    });
    const topOneAlone = await post(model.alone, '/', { inputs: TEXTS[0], parameters: { top_k: 1, function_to_apply: 'none' } });
    sameLists(t, topOne.body, topOneAlone.body, 'HF top_k and function_to_apply (from the logits)');

    const metadata = await get(repository.url, `/v2/models/${model.name}`);
    const metadataAlone = await get(model.alone.url, `/v2/models/${model.aloneName}`);
    t.same(metadata.body, { ...metadataAlone.body, name: model.name }, 'OIP metadata: the same model under its name');
    const version = metadata.body.versions[0];
    t.same((await get(repository.url, `/v2/models/${model.name}/versions/${version}`)).body, metadata.body, 'and under its version');
    t.same(await get(repository.url, `/v2/models/${model.name}/ready`).then((r) => [r.status, r.body]), [
      200,
      { name: model.name, ready: true },
    ]);
    t.equal((await get(repository.url, `/v2/models/${model.name}/versions/${version}/ready`)).status, 200);

    const inferAlone = await post(model.alone, `/v2/models/${model.aloneName}/infer`, oipBody(TEXTS));
    for (const path of [`/v2/models/${model.name}/infer`, `/v2/models/${model.name}/versions/${version}/infer`]) {
      const infer = await post(repository, path, oipBody(TEXTS));
      t.equal(infer.status, 200, path);
      t.same([infer.body.model_name, infer.body.model_version], [model.name, inferAlone.body.model_version], `${path}: name and version`);
      const [scores, label] = infer.body.outputs;
      const [scoresAlone, labelAlone] = inferAlone.body.outputs;
      t.same([scores.shape, label.data], [scoresAlone.shape, labelAlone.data], `${path}: shapes and top labels`);
      sameNumbers(t, scores.data, scoresAlone.data, `${path}: scores`);
    }

    const info = await get(repository.url, `/project/models/${model.name}/info`);
    t.equal(info.status, 200);
    t.same(info.body, (await get(model.alone.url, '/project/info')).body, "/project/models/{name}/info is the model's /project/info");
  });
}

t.test('the routes that name no model serve the default model (sentiment)', async (t) => {
  const bulk = await post(repository, '/project/bulk-predict', { text: TEXTS });
  sameLists(
    t,
    bulk.body.predictions,
    (await post(sentimentAlone, '/project/bulk-predict', { text: TEXTS })).body.predictions,
    'bulk-predict',
  );
  const hf = await post(repository, '/', { inputs: TEXTS });
  sameLists(t, hf.body, (await post(sentimentAlone, '/', { inputs: TEXTS })).body, 'HF POST /');
  const tei = await post(repository, '/predict', { inputs: TEI_INPUTS });
  sameLists(t, tei.body, (await post(sentimentAlone, '/predict', { inputs: TEI_INPUTS })).body, 'TEI /predict');
  t.same((await get(repository.url, '/project/info')).body, (await get(sentimentAlone.url, '/project/info')).body, '/project/info');
  const teiInfo = (await get(repository.url, '/info')).body;
  const teiInfoAlone = (await get(sentimentAlone.url, '/info')).body;
  // model_id is where the model was read from: here the repository's link to it.
  t.same({ ...teiInfo, model_id: '' }, { ...teiInfoAlone, model_id: '' }, "TEI /info: the default model's");
  t.equal(teiInfo.model_id, join(repositoryDir.dir, 'sentiment'));
});

t.test('the same body to two models gets each its own answer, also once answered from memory', async (t) => {
  const body = { text: ['a good movie'] };
  for (let round = 0; round < 2; round++) {
    for (const path of ['/project/bulk-predict', '/project/models/nli/bulk-predict', '/project/models/sentiment/bulk-predict']) {
      const res = await post(repository, path, body);
      const labels = res.body.predictions[0].map((p: Item) => p.label).sort();
      t.same(labels, path.includes('nli') ? [...MODELS[1].labels].sort() : [...MODELS[0].labels].sort(), `round ${round}: ${path}`);
      if (round === 1) t.equal(res.headers.get('x-cache'), 'hit', `round ${round}: ${path} from the cache`);
    }
  }
  const encoded = await post(repository, '/project/models/n%6Ci/bulk-predict', body);
  t.same(encoded.body, (await post(repository, '/project/models/nli/bulk-predict', body)).body, 'a percent-encoded name is the name');
});

t.test("an unknown name is a 404 in each family's error shape", async (t) => {
  const detail = { detail: 'Model nope not found' };
  const error = { error: 'Model nope not found' };
  const cases: [string, 'GET' | 'POST', unknown, unknown][] = [
    ['/project/models/nope/bulk-predict', 'POST', { text: ['x'] }, detail],
    ['/project/models/nope/info', 'GET', undefined, detail],
    ['/models/nope', 'POST', { inputs: 'x' }, error],
    ['/v2/models/nope', 'GET', undefined, error],
    ['/v2/models/nope/ready', 'GET', undefined, error],
    ['/v2/models/nope/infer', 'POST', oipBody(['x']), error],
  ];
  await expectNotFound(t, cases);
  const otherVersion = await post(repository, '/v2/models/nli/versions/1/infer', oipBody(['x']));
  t.same([otherVersion.status, otherVersion.body], [404, { error: 'Model nli not found' }], 'a version not served');
  const aloneName = await get(repository.url, '/v2/models/distilbert-sst2-standin');
  t.equal(aloneName.status, 404, "in a repository a model is called by its directory's name only");
});

t.test('with the default model unloaded, the routes that name none are 404s in their shapes; the other model serves on', async (t) => {
  await service.repository.unload('sentiment');
  const detail = { detail: 'Model sentiment not found' };
  const error = { error: 'Model sentiment not found' };
  const tei = { error: 'Model sentiment not found', error_type: 'validation' };
  const cases: [string, 'GET' | 'POST', unknown, unknown][] = [
    ['/project/bulk-predict', 'POST', { text: ['x'] }, detail],
    ['/project/info', 'GET', undefined, detail],
    ['/project/models/sentiment/bulk-predict', 'POST', { text: ['x'] }, detail],
    ['/', 'POST', { inputs: 'x' }, error],
    ['/predict', 'POST', { inputs: 'x' }, tei],
    ['/info', 'GET', undefined, tei],
    ['/v2/models/sentiment/infer', 'POST', oipBody(['x']), error],
  ];
  await expectNotFound(t, cases);
  t.same(
    (await get(repository.url, '/project/models')).body.map((m: { name: string; default: boolean }) => [m.name, m.default]),
    [['nli', false]],
    'the list holds the model still served',
  );
  const nli = await post(repository, '/project/models/nli/bulk-predict', { text: TEXTS });
  const alone = await post(nliAlone, '/project/bulk-predict', { text: TEXTS });
  sameLists(t, nli.body.predictions, alone.body.predictions, 'nli by name');
});
