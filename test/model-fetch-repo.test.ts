// `npm run model:fetch -- --repo` for a repository that is not pinned: the first fetch writes model.lock.json
// (trust on first use), later fetches and the service's start refuse files that differ, the revision is honoured.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchRepo } from '../dist/model/repo-fetch.js';
import { startHubServer } from './fixtures/hub-server.js';
import { repoRoot, startService } from './helper.js';

const REPO = 'acme/tiny-bert';
const REV_A = 'a'.repeat(40);
const REV_B = 'b'.repeat(40);
const FIXTURE = join(repoRoot, 'test', 'fixtures', 'models', 'bert-wordpiece');
const ONNX = 'onnx/model.onnx';
const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', ONNX];

const sha256Of = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** What a helper needs of a test: somewhere to register its clean-up. */
type Teardown = Pick<typeof t, 'teardown'>;

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'model-fetch-repo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Two revisions of one repository: B's config.json names the labels differently. */
async function twoRevisions(t: Teardown) {
  const root = await tempDir(t);
  const revA = join(root, 'rev-a');
  const revB = join(root, 'rev-b');
  cpSync(FIXTURE, revA, { recursive: true });
  cpSync(FIXTURE, revB, { recursive: true });
  const config = JSON.parse(readFileSync(join(revB, 'config.json'), 'utf8'));
  writeFileSync(join(revB, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'NEG', 1: 'POS' } }));
  const server = await startHubServer({ redirect: true, repos: { [REPO]: { [REV_A]: revA, [REV_B]: revB } } });
  t.teardown(() => server.close());
  return { server, revA, revB };
}

t.test("The first fetch downloads the revision asked for and writes a lock with each file's size and sha256.", async (t) => {
  const { server, revA } = await twoRevisions(t);
  const dest = await tempDir(t);
  const result = await fetchRepo({ repo: REPO, revision: REV_A, file: ONNX, destDir: dest, endpoint: server.url, retries: 0 });
  t.equal(result.locked, true);
  const resolved = server.requests.filter((r) => r.kind === 'resolve');
  t.ok(
    resolved.every((r) => r.repo === REPO && r.revision === REV_A),
    'every request names the revision',
  );
  t.ok(
    resolved.some((r) => r.path === 'special_tokens_map.json'),
    'an optional file is asked for',
  );
  const lock = JSON.parse(readFileSync(join(dest, 'model.lock.json'), 'utf8'));
  t.equal(lock.repo, REPO);
  t.equal(lock.revision, REV_A);
  t.equal(lock.onnxFile, ONNX);
  t.same(
    lock.files.map((f: { path: string }) => f.path).sort(),
    [...FILES].sort(),
    'the files the repository has; the missing optional one is left out',
  );
  for (const entry of lock.files) {
    t.equal(entry.sha256, sha256Of(join(revA, entry.path)), `${entry.path}: the hub's sha256`);
    t.equal(entry.size, readFileSync(join(revA, entry.path)).length, `${entry.path}: the hub's size`);
    t.equal(sha256Of(join(dest, entry.path)), entry.sha256, `${entry.path}: the bytes on disk`);
  }
});

t.test("Another revision gets that revision's files, and a directory locked to one revision refuses another.", async (t) => {
  const { server } = await twoRevisions(t);
  const destB = await tempDir(t);
  await fetchRepo({ repo: REPO, revision: REV_B, file: ONNX, destDir: destB, endpoint: server.url, retries: 0 });
  t.same(JSON.parse(readFileSync(join(destB, 'config.json'), 'utf8')).id2label, { 0: 'NEG', 1: 'POS' });
  const lockBefore = readFileSync(join(destB, 'model.lock.json'), 'utf8');
  await t.rejects(fetchRepo({ repo: REPO, revision: REV_A, file: ONNX, destDir: destB, endpoint: server.url, retries: 0 }), {
    code: 'MODEL_ERR_LOCK',
    message: new RegExp(`pins ${REPO}@${REV_B} .*not ${REPO}@${REV_A}`),
  });
  t.equal(readFileSync(join(destB, 'model.lock.json'), 'utf8'), lockBefore, 'the lock is unchanged');
  await t.rejects(
    fetchRepo({ repo: REPO, revision: 'c'.repeat(40), file: ONNX, destDir: await tempDir(t), endpoint: server.url, retries: 0 }),
    {
      code: 'MODEL_ERR_HTTP_STATUS',
      status: 404,
    },
    'an unknown revision is a 404, not the default branch',
  );
});

t.test('A later fetch verifies against the lock: a file changed upstream is refused, a damaged local file is fetched again.', async (t) => {
  const { server, revA } = await twoRevisions(t);
  const dest = await tempDir(t);
  await fetchRepo({ repo: REPO, revision: REV_A, file: ONNX, destDir: dest, endpoint: server.url, retries: 0 });
  const tokenizerSha = sha256Of(join(dest, 'tokenizer.json'));

  writeFileSync(join(dest, 'config.json'), '{"id2label": {"0": "tampered", "1": "x"}}');
  const again = await fetchRepo({ repo: REPO, revision: REV_A, file: ONNX, destDir: dest, endpoint: server.url, retries: 0 });
  t.equal(again.locked, false);
  t.same(again.downloaded, ['config.json'], 'only the damaged file is fetched again');
  t.equal(sha256Of(join(dest, 'config.json')), sha256Of(join(revA, 'config.json')), 'and it is the locked one');

  // The same revision name now serves other bytes (a force-pushed branch, a compromised mirror).
  // Same size, other bytes: the sha256 is what catches it.
  writeFileSync(join(revA, 'tokenizer.json'), readFileSync(join(revA, 'tokenizer.json'), 'utf8').replace('"charming"', '"Charming"'));
  writeFileSync(join(dest, 'tokenizer.json'), 'local damage, so the fetch asks the hub');
  await t.rejects(fetchRepo({ repo: REPO, revision: REV_A, file: ONNX, destDir: dest, endpoint: server.url, retries: 0 }), {
    code: 'MODEL_ERR_CHECKSUM',
    message: new RegExp(`^tokenizer\\.json: sha256 mismatch: expected ${tokenizerSha}`),
  });
  t.notOk(existsSync(join(dest, 'tokenizer.json.part')), 'nothing of the changed file is kept');
});

t.test(
  "The service starts from a fetched directory, reports the lock's repo and revision, and refuses a file that differs from it.",
  async (t) => {
    const { server } = await twoRevisions(t);
    const dest = await tempDir(t);
    const cli = spawn(
      process.execPath,
      [join(repoRoot, 'dist', 'model', 'fetch.js'), '--repo', REPO, '--revision', REV_A, '--file', ONNX, '--dest', dest],
      {
        env: { PATH: process.env.PATH, HF_ENDPOINT: server.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    cli.stderr!.on('data', (d) => {
      stderr += d;
    });
    const [code] = await once(cli, 'exit');
    t.equal(code, 0, stderr);
    t.match(stderr, /model\.lock\.json written \(first fetch\)/);

    const service = await startService({ MODEL_DIR: dest });
    const info: any = await (await fetch(`${service.url}/project/info`)).json();
    t.equal(info.model_id, REPO);
    t.equal(info.model_revision, REV_A);
    t.equal(info.model_file, ONNX);
    t.equal(info.model_sha256, sha256Of(join(dest, ONNX)));
    await service.stop();

    const refusal = async (): Promise<string> => {
      const refused = await startService({ MODEL_DIR: dest }, { waitHealthy: false });
      const [exit] = await once(refused.child, 'exit');
      t.equal(exit, 1);
      t.match(refused.output(), /INF_ERR_MODEL_INVALID/);
      return refused.output();
    };
    const tokenizerConfig = readFileSync(join(dest, 'tokenizer_config.json'));
    writeFileSync(join(dest, 'tokenizer_config.json'), JSON.stringify({ pad_token: '[PAD]', model_max_length: 8 }));
    t.match(
      await refusal(),
      /model\.lock\.json does not match the model directory: tokenizer_config\.json has \d+ bytes, the lock says \d+/,
    );
    writeFileSync(join(dest, 'tokenizer_config.json'), tokenizerConfig);
    const onnx = readFileSync(join(dest, ONNX));
    onnx[onnx.length >> 1] ^= 0xff;
    writeFileSync(join(dest, ONNX), onnx);
    t.match(await refusal(), /does not match the model directory: onnx\/model\.onnx has sha256 [0-9a-f]{64}, the lock says [0-9a-f]{64}/);
  },
);
