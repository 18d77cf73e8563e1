// The repository extension on the real service (issue 34, done-when 2): a repository of two real models, the
// stand-in (`sentiment`, the default) and the NLI fixture (`nli`); the index, an unload and a load of `nli` while
// `sentiment` takes a steady load of new and repeated texts (not one of its requests fails), a broken directory
// that fails its load alone, a changed directory that becomes a new version, overlapping loads, a load past
// MODEL_MEMORY_BUDGET_MB, and the API keys the repository routes need.
import t, { type Test } from 'tap';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAIR_FIXTURE_MODELS } from './fixture-models.js';
import { logRecords, postPredict, STANDIN_MODEL_DIR, startService, waitFor } from './helper.js';

const NLI_DIR = PAIR_FIXTURE_MODELS.nli.dir;
const NLI_TEXTS = ['A man is sleeping.', 'Two dogs run through a field.', 'Nobody is outside.'];

interface IndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

/** A repository of `sentiment` (the stand-in) and `nli`, as symbolic links in a new directory. */
async function twoModelRepository(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'model-repository-'));
  await symlink(STANDIN_MODEL_DIR, join(root, 'sentiment'));
  await symlink(NLI_DIR, join(root, 'nli'));
  return root;
}

/** The service's environment for a repository: MODEL_DIR, which the harness sets, must be unset (they are exclusive). */
const repositoryEnv = (root: string): Record<string, string> => ({ MODEL_DIR: '', MODEL_REPOSITORY: root, DEFAULT_MODEL: 'sentiment' });

/** POSTs to a repository route: status, parsed body and headers. */
async function repositoryCall(url: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v2/repository${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // any: the tests read fields of whatever the service answered
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

async function index(url: string, headers: Record<string, string> = {}): Promise<IndexEntry[]> {
  const { status, body } = await repositoryCall(url, '/index', undefined, headers);
  if (status !== 200) throw new Error(`index answered ${status}: ${JSON.stringify(body)}`);
  return body as IndexEntry[];
}

const entryOf = (entries: IndexEntry[], name: string): IndexEntry | undefined => entries.find((entry) => entry.name === name);

/** POST /v2/models/{name}/infer with `texts`: status and body. */
async function oipInfer(url: string, name: string, texts: readonly string[], headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] }),
  });
  // any: the tests read fields of whatever the service answered
  return { status: res.status, body: (await res.json()) as any };
}

/** The `scores` tensor's data of a 200 infer answer. */
function scoresOf(answer: { status: number; body: { outputs: { name: string; data: number[] }[] } }): number[] {
  if (answer.status !== 200) throw new Error(`infer answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.outputs.find((output) => output.name === 'scores')!.data;
}

function assertClose(t: Test, actual: readonly number[], expected: readonly number[], what: string): void {
  t.equal(actual.length, expected.length, `${what}: as many scores`);
  const worst = Math.max(...actual.map((value, i) => Math.abs(value - expected[i]!)));
  t.ok(worst <= 1e-6, `${what}: scores within 1e-6 (worst ${worst})`);
}

/**
 * Clients that each post one request after another to the default model's route until stopped, each request a
 * new text and one every request repeats; every answer's status is counted.
 */
function steadyLoad(url: string, clients: number) {
  const statuses = new Map<number, number>();
  let answered = 0;
  let running = true;
  const client = async (c: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const status = await postPredict(url, {
        text: [`steady client ${c} sentence ${i} about a rather fine film`, 'I love this movie'],
      }).then(
        (res) => res.status,
        () => 0,
      );
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      answered++;
    }
  };
  const done = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return {
    get answered() {
      return answered;
    },
    /** Stops the clients once their requests in flight are answered: the count of answers by status. */
    async stop(): Promise<Map<number, number>> {
      running = false;
      await done;
      return statuses;
    },
  };
}

t.test('a repository of two models, one unloaded and loaded again under load, broken and changed directories', async (t) => {
  const root = await twoModelRepository();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const service = await startService({ ...repositoryEnv(root), WORKERS: '2' });
  t.teardown(() => service.stop());
  const { url } = service;

  t.test('the index lists both READY, each with its version', async (t) => {
    const entries = await index(url);
    t.same(
      entries.map(({ name, state, reason }) => ({ name, state, reason })),
      [
        { name: 'nli', state: 'READY', reason: '' },
        { name: 'sentiment', state: 'READY', reason: '' },
      ],
    );
    for (const entry of entries) {
      const metadata = (await (await fetch(`${url}/v2/models/${entry.name}`)).json()) as { versions: string[] };
      t.same(metadata.versions, [entry.version], `${entry.name}: the version its metadata gives`);
    }
    t.same(await repositoryCall(url, '/index', { ready: true }).then((r) => r.body), entries, '{"ready": true}: the READY ones, here all');
  });

  t.test('an index body that is not {"ready": boolean} is a 400 naming the field', async (t) => {
    const wrong = await repositoryCall(url, '/index', { ready: 'yes' });
    t.equal(wrong.status, 400);
    t.match(wrong.body.error, /ready must be boolean/);
    t.equal((await repositoryCall(url, '/index', { readyy: true })).status, 400, 'an unknown field');
    const res = await fetch(`${url}/v2/repository/index`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"ready":',
    });
    t.equal(res.status, 400, 'not JSON');
    t.match(((await res.json()) as { error: string }).error, /not JSON/);
  });

  t.test('nli unloaded and loaded again while sentiment takes a steady load: not one of its requests fails', async (t) => {
    const before = scoresOf(await oipInfer(url, 'nli', NLI_TEXTS));
    const load = steadyLoad(url, 4);
    await waitFor(() => load.answered >= 20, 120_000, 'the steady load under way');

    // A few rounds: each unload and load waits for a batch of sentiment's to end on every thread.
    for (let round = 1; round <= 3; round++) {
      const unloaded = await repositoryCall(url, '/models/nli/unload');
      t.same([unloaded.status, unloaded.body], [200, {}], `round ${round}: unload: 200 {} once its sessions are released`);
      const refused = await oipInfer(url, 'nli', NLI_TEXTS);
      t.same([refused.status, refused.body], [404, { error: 'Model nli not found' }], 'an unloaded model is a 404');
      t.equal((await fetch(`${url}/v2/models/nli`)).status, 404, 'its metadata too');
      const entry = entryOf(await index(url), 'nli');
      t.same([entry?.state, entry?.reason], ['UNAVAILABLE', 'unloaded'], 'the index: UNAVAILABLE, unloaded');
      const ready = (await repositoryCall(url, '/index', { ready: true })).body as IndexEntry[];
      t.same(
        ready.map((e) => e.name),
        ['sentiment'],
        '{"ready": true} leaves it out',
      );
      const answeredWhileUnloaded = load.answered;

      const loaded = await repositoryCall(url, '/models/nli/load');
      t.same([loaded.status, loaded.body], [200, {}], `round ${round}: load: 200 {} once it serves`);
      assertClose(t, scoresOf(await oipInfer(url, 'nli', NLI_TEXTS)), before, 'nli after the load');
      t.equal(entryOf(await index(url), 'nli')?.state, 'READY');
      await waitFor(() => load.answered >= answeredWhileUnloaded + 20, 120_000, 'more of the steady load after the load');
    }
    const statuses = await load.stop();
    t.same([...statuses.keys()], [200], `every request to sentiment answered 200 (${[...statuses.entries()].join('; ')})`);
  });

  t.test('a broken directory fails its load alone, naming it and why', async (t) => {
    // Labels that do not match the ONNX output (found when the threads warm it), and a missing tokenizer.json.
    const labels = join(root, 'wrong-labels');
    await cp(NLI_DIR, labels, { recursive: true });
    const config = JSON.parse(await readFile(join(labels, 'config.json'), 'utf8'));
    config.id2label = { 0: 'yes', 1: 'no' };
    config.label2id = { yes: 0, no: 1 };
    await writeFile(join(labels, 'config.json'), JSON.stringify(config));
    const tokenizerless = join(root, 'no-tokenizer');
    await cp(NLI_DIR, tokenizerless, { recursive: true });
    await rm(join(tokenizerless, 'tokenizer.json'));
    const served = (await index(url)).filter((entry) => entry.state === 'READY');

    for (const [name, why] of [
      ['wrong-labels', /gives 3 logits per text, but config.json's id2label has 2 labels/],
      ['no-tokenizer', /tokenizer\.json/],
    ] as const) {
      const failed = await repositoryCall(url, `/models/${name}/load`);
      t.equal(failed.status, 400, `${name}: 400`);
      t.match(failed.body.error, new RegExp(`^Model ${name} could not be loaded: `), `${name}: the message names it`);
      t.match(failed.body.error, why, `${name}: and why`);
      const entry = entryOf(await index(url), name);
      t.same([entry?.state, entry?.reason], ['UNAVAILABLE', failed.body.error], `${name}: UNAVAILABLE, with the reason`);
      t.equal((await oipInfer(url, name, NLI_TEXTS)).status, 404, `${name}: not served`);
    }
    t.same(
      (await index(url)).filter((entry) => entry.state === 'READY'),
      served,
      'the served models are as they were',
    );
    t.equal((await postPredict(url, { text: ['still fine'] })).status, 200, 'sentiment answers');
    t.equal((await oipInfer(url, 'nli', NLI_TEXTS)).status, 200, 'nli answers');
  });

  t.test('a changed directory loaded again is a new version; the old one is released', async (t) => {
    const dir = join(root, 'nli-copy');
    await cp(NLI_DIR, dir, { recursive: true });
    t.same((await repositoryCall(url, '/models/nli-copy/load')).status, 200, 'a new directory loads');
    const first = entryOf(await index(url), 'nli-copy')!;
    t.equal(first.state, 'READY');
    assertClose(
      t,
      scoresOf(await oipInfer(url, 'nli-copy', NLI_TEXTS)),
      scoresOf(await oipInfer(url, 'nli', NLI_TEXTS)),
      'the copy scores as nli',
    );
    t.equal((await repositoryCall(url, '/models/nli-copy/load')).status, 200, 'the same directory again: 200');
    t.equal(entryOf(await index(url), 'nli-copy')!.version, first.version, 'and the same version');

    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    config.id2label = { 0: 'yes', 1: 'maybe', 2: 'no' };
    config.label2id = { yes: 0, maybe: 1, no: 2 };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    t.equal((await repositoryCall(url, '/models/nli-copy/load')).status, 200, 'the changed directory loads');
    const second = entryOf(await index(url), 'nli-copy')!;
    t.equal(second.state, 'READY');
    t.not(second.version, first.version, 'a new version');
    const answer = await oipInfer(url, 'nli-copy', NLI_TEXTS);
    t.same(
      [answer.body.model_version, answer.body.outputs[1].data.every((label: string) => ['yes', 'maybe', 'no'].includes(label))],
      [second.version, true],
      'served with its new labels',
    );
    const old = await fetch(`${url}/v2/models/nli-copy/versions/${first.version}`);
    t.equal(old.status, 404, 'the old version is not served');
    const released = logRecords(service.output()).filter((r) => r.msg === 'model version replaced; its sessions released');
    t.same(
      released.map((r) => [r.model, r.version]),
      [['nli-copy', first.version]],
      "the old version's sessions were released",
    );
  });

  t.test('two loads of one name at once: one loads, the other is refused 409 unless the first had ended', async (t) => {
    t.equal((await repositoryCall(url, '/models/nli/unload')).status, 200);
    const answers = await Promise.all([repositoryCall(url, '/models/nli/load'), repositoryCall(url, '/models/nli/load')]);
    const statuses = answers.map((a) => a.status).sort();
    t.ok(statuses[0] === 200 && [200, 409].includes(statuses[1]!), `statuses ${statuses}`);
    for (const busy of answers.filter((a) => a.status === 409)) {
      t.same(busy.body, { error: 'Model nli is being loaded or unloaded; retry when that ends' });
      t.equal(busy.headers.get('retry-after'), '1');
    }
    t.equal(entryOf(await index(url), 'nli')?.state, 'READY');
    t.equal((await oipInfer(url, 'nli', NLI_TEXTS)).status, 200);
  });

  t.test('unknown names are 404s; a load cannot take another configuration', async (t) => {
    for (const path of ['/models/nope/load', '/models/nope/unload', '/models/..%2Fetc/load']) {
      const answer = await repositoryCall(url, path);
      t.equal(answer.status, 404, path);
      t.match(answer.body.error, /^Model .* not found$/);
    }
    const override = await repositoryCall(url, '/models/nli/load', { parameters: { config: '{"max_batch_size": 8}' } });
    t.equal(override.status, 400);
    t.match(override.body.error, /parameters config not supported/);
    t.equal(
      (await repositoryCall(url, '/models/nli/unload', { parameters: { unload_dependents: false } })).status,
      200,
      "unload's parameters are accepted",
    );
    t.equal((await repositoryCall(url, '/models/nli/load')).status, 200);
  });
});

t.test('MODEL_MEMORY_BUDGET_MB refuses a load 507, unloading nothing; with API keys the repository routes need one', async (t) => {
  const root = await twoModelRepository();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const key = 'repository-key-1';
  const keyed = { authorization: `Bearer ${key}` };
  // The start's models are loaded whatever the budget; a live load is held to it.
  const service = await startService({ ...repositoryEnv(root), MODEL_MEMORY_BUDGET_MB: '1', API_KEYS: key }, { waitHealthy: false });
  t.teardown(() => service.stop());
  const { url } = service;
  // While the workers warm, the repository routes answer 503 as the prediction routes do. An answer counts only
  // if health still said starting after it (the service never goes back to starting).
  const starting = async () => (await fetch(`${url}/project/health`).catch(() => undefined))?.status === 503;
  let duringStart: Awaited<ReturnType<typeof repositoryCall>> | undefined;
  await waitFor(
    async () => {
      const health = await fetch(`${url}/project/health`).catch(() => undefined);
      if (health?.status === 503 && duringStart === undefined) {
        const answer = await repositoryCall(url, '/index', undefined, keyed);
        if (await starting()) duringStart = answer;
      }
      return health?.status === 200;
    },
    120_000,
    'healthy',
  );
  if (duringStart === undefined) t.comment('warm before a repository request could be sent while starting');
  else
    t.same(
      [duringStart.status, duringStart.body, duringStart.headers.get('retry-after')],
      [503, { error: 'Model is loading' }, '1'],
      'starting: 503',
    );
  await symlink(NLI_DIR, join(root, 'late'));

  t.test('a load past the budget: 507, and the index and the served models are as they were', async (t) => {
    const before = await index(url, keyed);
    t.same(
      entryOf(before, 'late'),
      { name: 'late', version: '', state: 'UNAVAILABLE', reason: '' },
      'late: in the directory, never loaded',
    );
    const refused = await repositoryCall(url, '/models/late/load', undefined, keyed);
    t.equal(refused.status, 507);
    t.match(refused.body.error, /^Model late needs about \d+ MiB more, which would pass MODEL_MEMORY_BUDGET_MB=1; unload a model first$/);
    t.same(await index(url, keyed), before, 'the index is unchanged');
    t.equal(
      (await postPredict(url, { text: ['fine'] }, { headers: { 'content-type': 'application/json', ...keyed } })).status,
      200,
      'sentiment answers',
    );
    t.equal((await oipInfer(url, 'nli', NLI_TEXTS, keyed)).status, 200, 'nli answers');
  });

  t.test('the default API_KEY_ROUTES guards the repository routes: no key or a wrong one is a 401', async (t) => {
    for (const path of ['/index', '/models/nli/unload', '/models/late/load']) {
      const missing = await repositoryCall(url, path);
      t.same([missing.status, missing.body], [401, { error: 'Not authenticated' }], `${path}: no key`);
      t.equal(missing.headers.get('www-authenticate'), 'Bearer realm="sentiment-inference"');
      const wrong = await repositoryCall(url, path, undefined, { authorization: 'Bearer wrong-key' });
      t.same([wrong.status, wrong.body], [401, { error: 'Invalid API key' }], `${path}: a wrong key`);
    }
    t.equal(entryOf(await index(url, keyed), 'nli')?.state, 'READY', 'nli was not unloaded');
  });
});
