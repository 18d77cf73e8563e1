// `npm run model:fetch -- --list models.json --dest DIR`: every model of a pinned list into DIR/<name>/ (a
// MODEL_REPOSITORY), against a local hub: each model verified against its pins and locked, a second run
// downloading nothing, a hash mismatch failing that model alone and naming it, and the list validated first.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchList } from '../dist/model/list-fetch.js';
import { parseModelList } from '../dist/model/model-list.js';
import { runFetchCli } from './fixtures/fetch-cli.js';
import { startHubServer } from './fixtures/hub-server.js';
import { repoRoot } from './helper.js';

const REV = 'c'.repeat(40);
const ONNX = 'onnx/model.onnx';
const FIXTURES = join(repoRoot, 'test', 'fixtures', 'models');
/** Two models with different label sets, each its own hub repository. */
const SENTIMENT = { name: 'sentiment', repo: 'acme/tiny-bert', dir: join(FIXTURES, 'bert-wordpiece') };
const TOXICITY = { name: 'toxicity', repo: 'acme/tiny-toxic', dir: join(FIXTURES, 'multilabel-int32') };

const sha256Of = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const pinOf = (dir: string, path: string) => ({ path, size: statSync(join(dir, path)).size, sha256: sha256Of(join(dir, path)) });

type Teardown = Pick<typeof t, 'teardown'>;

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'model-fetch-list-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function hub(t: Teardown) {
  const server = await startHubServer({
    redirect: true,
    repos: { [SENTIMENT.repo]: { [REV]: SENTIMENT.dir }, [TOXICITY.repo]: { [REV]: TOXICITY.dir } },
  });
  t.teardown(() => server.close());
  return server;
}

/** The list as a user writes it: sentiment pins its tokenizer and ONNX file, toxicity relies on its lock. */
function listJson(toxicityPins: object[] = []) {
  return {
    models: [
      {
        name: SENTIMENT.name,
        repo: SENTIMENT.repo,
        revision: REV,
        file: ONNX,
        files: [pinOf(SENTIMENT.dir, 'tokenizer.json'), pinOf(SENTIMENT.dir, ONNX)],
      },
      { name: TOXICITY.name, repo: TOXICITY.repo, revision: REV, file: ONNX, ...(toxicityPins.length ? { files: toxicityPins } : {}) },
    ],
  };
}

t.test(
  'Every model of the list lands in <dest>/<name>/ with its lock, the pinned files verified; a second run downloads nothing.',
  async (t) => {
    const server = await hub(t);
    const dest = await tempDir(t);
    const models = parseModelList(listJson());
    const first = await fetchList({ models, destDir: dest, endpoint: server.url, retries: 0 });
    t.same(
      first.map((r) => [r.name, r.locked]),
      [
        ['sentiment', true],
        ['toxicity', true],
      ],
    );
    t.same(readdirSync(dest).sort(), ['sentiment', 'toxicity'], 'one directory per model, named as listed');
    for (const { name, repo, dir } of [SENTIMENT, TOXICITY]) {
      const lock = JSON.parse(readFileSync(join(dest, name, 'model.lock.json'), 'utf8'));
      t.equal(lock.repo, repo, `${name}: locked to its repository`);
      t.equal(lock.revision, REV);
      for (const entry of lock.files) t.equal(entry.sha256, sha256Of(join(dir, entry.path)), `${name}/${entry.path}: the hub's bytes`);
      t.same(JSON.parse(readFileSync(join(dest, name, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    }

    const asked = server.requests.length;
    const second = await fetchList({ models, destDir: dest, endpoint: server.url, retries: 0 });
    t.same(
      second.map((r) => [r.name, r.locked, r.downloaded.length]),
      [
        ['sentiment', false, 0],
        ['toxicity', false, 0],
      ],
      'verified against the locks',
    );
    t.equal(server.requests.length, asked, 'the second run asks the hub for nothing');
  },
);

t.test('A file whose sha256 differs from its pin fails that model alone, with an error naming it; the other is fetched.', async (t) => {
  const server = await hub(t);
  const dest = await tempDir(t);
  const wrong = { ...pinOf(TOXICITY.dir, ONNX), sha256: 'f'.repeat(64) };
  const err = await fetchList({ models: parseModelList(listJson([wrong])), destDir: dest, endpoint: server.url, retries: 0 }).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string; cause: AggregateError },
  );
  t.equal(err?.code, 'MODEL_ERR_LIST_INCOMPLETE');
  t.match(
    err?.message,
    /^1 of 2 models not fetched:\n {2}model "toxicity" \(acme\/tiny-toxic@c{40}\): onnx\/model\.onnx: sha256 mismatch: expected f{64}/,
  );
  const [failure, ...more] = err?.cause.errors ?? [];
  t.same(more, [], 'only the mismatching model failed');
  t.equal(failure?.code, 'MODEL_ERR_CHECKSUM', "the model's error keeps its own code");
  t.ok(existsSync(join(dest, 'sentiment', 'model.lock.json')), 'the other model was fetched and locked');
  t.notOk(existsSync(join(dest, 'toxicity', 'model.lock.json')), 'the failed one has no lock');
  t.notOk(existsSync(join(dest, 'toxicity', `${ONNX}.part`)), 'and nothing of the refused file is kept');
});

t.test('A pin that contradicts the lock already in the directory is refused, naming the model.', async (t) => {
  const server = await hub(t);
  const dest = await tempDir(t);
  await fetchList({ models: parseModelList(listJson()), destDir: dest, endpoint: server.url, retries: 0 });
  const repinned = parseModelList(listJson([{ ...pinOf(TOXICITY.dir, 'tokenizer.json'), sha256: 'e'.repeat(64) }]));
  await t.rejects(fetchList({ models: repinned, destDir: dest, endpoint: server.url, retries: 0 }), {
    code: 'MODEL_ERR_LIST_INCOMPLETE',
    message: /model "toxicity" .*model lock .*toxicity\/model\.lock\.json has tokenizer\.json with sha256 [0-9a-f]{64}, the pin says e{64}/,
  });
});

t.test('The CLI fetches the list, exits 0, downloads nothing the second time, and exits 1 naming a model that fails.', async (t) => {
  const server = await hub(t);
  const work = await tempDir(t);
  const listFile = join(work, 'models.json');
  const run = async (list: object, dest = join(work, 'models')) => {
    writeFileSync(listFile, JSON.stringify(list));
    return runFetchCli(['--list', listFile, '--dest', dest], server.url);
  };
  const first = await run(listJson());
  t.equal(first.code, 0, first.stderr);
  t.match(first.stderr, /^sentiment: acme\/tiny-bert@c{40} into .*\/models\/sentiment$/m, 'each model is announced before its files');
  const second = await run(listJson());
  t.equal(second.code, 0, second.stderr);
  t.match(second.stderr, /^sentiment: ready, 0 files downloaded$/m);
  t.match(second.stderr, /^toxicity: ready, 0 files downloaded$/m);

  const failing = listJson();
  failing.models[0]!.revision = 'd'.repeat(40);
  const third = await run(failing, join(work, 'fresh'));
  t.equal(third.code, 1);
  t.match(third.stderr, /model:fetch failed: 1 of 2 models not fetched:\n {2}model "sentiment" \(acme\/tiny-bert@d{40}\): .*HTTP 404/);

  const noDest = await runFetchCli(['--list', listFile], server.url);
  t.equal(noDest.code, 1);
  t.match(
    noDest.stderr,
    /^model:fetch failed: --list needs --dest, the repository directory$/m,
    'no default: the directory is named on purpose',
  );
});

t.test('The list is validated before anything is fetched.', async (t) => {
  const entry = { name: 'sentiment', repo: 'acme/tiny-bert', revision: REV };
  const refused = (models: unknown, pattern: RegExp, code = 'MODEL_ERR_LIST') =>
    t.throws(() => parseModelList({ models }, 'models.json'), { code, message: pattern }, String(pattern));
  t.same(
    parseModelList({ models: [entry] }),
    [{ ...entry, file: 'onnx/model_quantized.onnx', files: [] }],
    'the file defaults as --repo does',
  );
  refused([], /models is empty/);
  refused([{ ...entry, revison: 'main' }], /models\[0\]: unknown field "revison"/);
  refused([{ ...entry, name: '../etc' }], /models\[0\]: name must be/);
  refused([{ ...entry, name: '' }], /name must be/);
  refused([entry, { ...entry, name: 'Sentiment' }], /the name "Sentiment" is used twice \(as "sentiment"\)/);
  refused([{ ...entry, revision: '' }], /revision must be a non-empty string/);
  refused([{ ...entry, files: [{ path: 'vocab.txt', size: 1, sha256: 'a'.repeat(64) }] }], /files pins vocab\.txt, which is not fetched/);
  refused([{ ...entry, repo: 'no-owner' }], /repo must look like "owner\/name"/, 'MODEL_ERR_MANIFEST');
  refused(
    [{ ...entry, file: '../model.onnx' }],
    /models\.json, models\[0\] "sentiment": .*path must be a relative path/,
    'MODEL_ERR_MANIFEST',
  );
  refused(
    [{ ...entry, files: [{ path: 'config.json', size: 1, sha256: 'ABC' }] }],
    /sha256 must be 64 lowercase hex/,
    'MODEL_ERR_MANIFEST',
  );
  t.throws(() => parseModelList([entry]), { code: 'MODEL_ERR_LIST', message: /a "models" array/ });
});
