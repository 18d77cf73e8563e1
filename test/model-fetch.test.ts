// `npm run model:fetch` against a local hub serving the stand-in model: integrity, resume, skip, CLI.
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureModel, fetchModel, type FetchEvent, type Manifest } from '../dist/model/manifest-fetch.js';
import { runFetchCli } from './fixtures/fetch-cli.js';
import { HUB_REPO, startHubServer, type HubServerOptions } from './fixtures/hub-server.js';
import { STANDIN_MODEL_DIR, waitFor } from './helper.js';

const ONNX = 'onnx/model_quantized.onnx';
const SMALL = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

const sha256Of = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** config.json and tokenizer_config.json are pinned by the hashes of the stand-in's own files. */
const pinOf = (path: string) => ({
  path,
  size: statSync(join(STANDIN_MODEL_DIR, path)).size,
  sha256: sha256Of(join(STANDIN_MODEL_DIR, path)),
});

// The stand-in's published hashes (its README); the real model's pins live in model/manifest.json.
const manifest: Manifest = {
  repo: HUB_REPO,
  revision: 'main',
  defaultVariant: 'quantized',
  files: [
    pinOf('config.json'),
    {
      path: 'tokenizer.json',
      size: statSync(join(STANDIN_MODEL_DIR, 'tokenizer.json')).size,
      sha256: 'd241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66',
    },
    pinOf('tokenizer_config.json'),
  ],
  // "small" has no variant file, so most tests move under 1 MB instead of 69 MB.
  variants: {
    quantized: [{ path: ONNX, size: 69_040_691, sha256: 'ebe8782095c98d873a72da97b857e60799d8846e5d4522077c18a3d119867671' }],
    small: [],
  },
};

/** Only what the helpers need of a test, so they take any subtest. */
type Scope = Pick<typeof t, 'teardown'>;

async function tempDir(t: Scope): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'model-fetch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function hub(t: Scope, options: HubServerOptions = {}) {
  const server = await startHubServer(options);
  t.teardown(() => server.close());
  return server;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

t.test('A clean fetch through a redirect writes byte-identical files and leaves no .part file behind.', async (t) => {
  const server = await hub(t, { redirect: true });
  const dest = await tempDir(t);
  const result = await fetchModel({ endpoint: server.url, manifest, destDir: dest, retries: 0 });
  t.same(result.downloaded, [...SMALL, ONNX]);
  t.same(await listFiles(dest), [...SMALL, ONNX].sort());
  for (const path of [...SMALL, ONNX]) {
    t.equal(sha256Of(join(dest, path)), sha256Of(join(STANDIN_MODEL_DIR, path)), `${path} matches the source`);
  }
  t.equal(server.requests.filter((r) => r.kind === 'cdn').length, 4, 'every file came through the 302 hop');
  t.ok(
    server.requests.every((r) => r.acceptEncoding === 'identity'),
    'no transfer compression is requested',
  );
});

t.test('A corrupted file is rejected with an error naming it, and nothing is written in its place.', async (t) => {
  const server = await hub(t, { corrupt: ['tokenizer.json'] });
  const dest = await tempDir(t);
  await t.rejects(fetchModel({ endpoint: server.url, manifest, variant: 'small', destDir: dest, retries: 0 }), {
    code: 'MODEL_ERR_CHECKSUM',
    message:
      /^tokenizer\.json: sha256 mismatch: expected d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66, got [0-9a-f]{64}/,
  });
  t.notOk(existsSync(join(dest, 'tokenizer.json')), 'no final file');
  t.notOk(existsSync(join(dest, 'tokenizer.json.part')), 'no partial file');
});

t.test('An interrupted download leaves a .part, and the next fetch resumes it with a Range request.', async (t) => {
  const cutAt = 20_000_000;
  const server = await hub(t, { interrupt: { path: ONNX, bytes: cutAt } });
  const dest = await tempDir(t);
  const part = join(dest, `${ONNX}.part`);
  const first = fetchModel({ endpoint: server.url, manifest, destDir: dest, retries: 0 });
  await server.stalled;
  // Cut only once every byte sent is on disk, so the resume offset is known exactly.
  await waitFor(async () => (await stat(part).catch(() => undefined))?.size === cutAt, 30_000, 'the .part to hold the bytes sent');
  server.cut();
  await t.rejects(first, { code: 'MODEL_ERR_NETWORK', message: new RegExp(`^${ONNX}: network failure`) });
  t.equal(statSync(part).size, cutAt, 'the .part is kept for the resume');
  t.notOk(existsSync(join(dest, ONNX)), 'no final file yet');

  const second = await fetchModel({ endpoint: server.url, manifest, destDir: dest, retries: 0 });
  t.same(second.downloaded, [ONNX]);
  t.same(second.present, SMALL);
  const onnxRequests = server.requests.filter((r) => r.path === ONNX);
  t.same(
    onnxRequests.map((r) => r.range),
    [undefined, `bytes=${cutAt}-`],
  );
  t.equal(sha256Of(join(dest, ONNX)), manifest.variants.quantized[0].sha256);
  t.notOk(existsSync(part), 'the .part was renamed');
});

t.test('A dropped connection is retried within the same call, resuming from the bytes already on disk.', async (t) => {
  const cutAt = 300_000;
  const server = await hub(t, { interrupt: { path: 'tokenizer.json', bytes: cutAt } });
  const dest = await tempDir(t);
  const events: FetchEvent[] = [];
  const fetching = fetchModel({
    endpoint: server.url,
    manifest,
    variant: 'small',
    destDir: dest,
    retries: 1,
    retryDelayMs: 0,
    onProgress: (e) => events.push(e),
  });
  await server.stalled;
  await waitFor(async () => (await stat(join(dest, 'tokenizer.json.part')).catch(() => undefined))?.size === cutAt, 30_000, 'the .part');
  server.cut();
  await fetching;
  t.same(
    server.requests.filter((r) => r.path === 'tokenizer.json').map((r) => r.range),
    [undefined, `bytes=${cutAt}-`],
  );
  t.match(
    events.filter((e) => e.kind === 'retry'),
    [{ file: 'tokenizer.json', attempt: 1 }],
  );
  t.match(
    events.filter((e) => e.kind === 'start' && e.file === 'tokenizer.json'),
    [{ offset: 0 }, { offset: cutAt }],
  );
  t.equal(sha256Of(join(dest, 'tokenizer.json')), manifest.files[1].sha256);
});

t.test('A server that ignores the Range header gets the whole file again, and the .part is rewritten, not appended to.', async (t) => {
  const server = await hub(t, { ignoreRange: true });
  const dest = await tempDir(t);
  await writeFile(join(dest, 'tokenizer.json.part'), readFileSync(join(STANDIN_MODEL_DIR, 'tokenizer.json')).subarray(0, 1000));
  await fetchModel({ endpoint: server.url, manifest, variant: 'small', destDir: dest, retries: 0 });
  t.same(
    server.requests.filter((r) => r.path === 'tokenizer.json').map((r) => r.range),
    ['bytes=1000-'],
  );
  t.equal(sha256Of(join(dest, 'tokenizer.json')), manifest.files[1].sha256);
});

t.test('A second fetch of a complete directory sends no request, and a file changed on disk is fetched again.', async (t) => {
  const server = await hub(t);
  const dest = await tempDir(t);
  await fetchModel({ endpoint: server.url, manifest, variant: 'small', destDir: dest, retries: 0 });
  t.equal(server.requests.length, 3);

  const again = await fetchModel({ endpoint: server.url, manifest, variant: 'small', destDir: dest, retries: 0 });
  t.equal(server.requests.length, 3, 'no request for verified files');
  t.same(again.downloaded, []);
  t.same(again.present, SMALL);

  // Same size, different bytes: only the hash can tell.
  const tokenizer = join(dest, 'tokenizer.json');
  await writeFile(tokenizer, Buffer.alloc(statSync(tokenizer).size, 0x20));
  const repaired = await fetchModel({ endpoint: server.url, manifest, variant: 'small', destDir: dest, retries: 0 });
  t.same(repaired.downloaded, ['tokenizer.json']);
  t.equal(server.requests.length, 4);
  t.equal(sha256Of(tokenizer), manifest.files[1].sha256);
});

t.test(
  'ensureModel fetches into an empty directory, skips a complete one without hashing, and refetches a file of the wrong size.',
  async (t) => {
    const server = await hub(t);
    const dest = join(await tempDir(t), 'model');
    const first = await ensureModel(dest, { endpoint: server.url, manifest, variant: 'small', retries: 0 });
    t.same(first.downloaded, SMALL);
    t.equal(server.requests.length, 3);
    for (const path of SMALL) t.equal(sha256Of(join(dest, path)), sha256Of(join(STANDIN_MODEL_DIR, path)), `${path} matches the source`);

    // Same size, different bytes: only a hash would notice, and ensureModel deliberately does not hash.
    const tokenizer = join(dest, 'tokenizer.json');
    const blank = Buffer.alloc(statSync(tokenizer).size, 0x20);
    await writeFile(tokenizer, blank);
    const second = await ensureModel(dest, { endpoint: server.url, manifest, variant: 'small', retries: 0 });
    t.same(second.downloaded, []);
    t.equal(server.requests.length, 3, 'no request');
    t.ok(readFileSync(tokenizer).equals(blank), 'the file was not re-fetched');

    // A wrong size is what it does catch, e.g. a copy cut short.
    await writeFile(tokenizer, blank.subarray(0, 10));
    const third = await ensureModel(dest, { endpoint: server.url, manifest, variant: 'small', retries: 0 });
    t.same(third.downloaded, ['tokenizer.json']);
    t.equal(sha256Of(tokenizer), manifest.files[1].sha256);
  },
);

t.test('The token is sent as a bearer authorization, and a missing file fails with the HTTP status and its name.', async (t) => {
  const server = await hub(t);
  const dest = await tempDir(t);
  const missing: Manifest = {
    ...manifest,
    variants: { small: [{ path: 'onnx/missing.onnx', size: 1, sha256: null }] },
    defaultVariant: 'small',
  };
  await t.rejects(fetchModel({ endpoint: server.url, manifest: missing, destDir: dest, token: 'hf_test', retries: 0 }), {
    code: 'MODEL_ERR_HTTP_STATUS',
    status: 404,
    message:
      /^onnx\/missing\.onnx: HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/Xenova\/distilbert-base-uncased-finetuned-sst-2-english\/resolve\/main\/onnx\/missing\.onnx/,
  });
  t.equal(server.requests.length, 4);
  t.ok(server.requests.every((r) => r.authorization === 'Bearer hf_test'));
});

t.test('A file pinned as null is fetched and accepted when it parses as JSON.', async (t) => {
  const server = await hub(t);
  const dest = await tempDir(t);
  const unpinned: Manifest = {
    ...manifest,
    files: [{ path: 'config.json', size: null, sha256: null }],
    variants: { small: [] },
    defaultVariant: 'small',
  };
  const events: FetchEvent[] = [];
  const result = await fetchModel({ endpoint: server.url, manifest: unpinned, destDir: dest, onProgress: (e) => events.push(e) });
  t.same(result.downloaded, ['config.json']);
  t.match(events.at(-1), { kind: 'done', file: 'config.json', verified: false });
  t.equal(sha256Of(join(dest, 'config.json')), sha256Of(join(STANDIN_MODEL_DIR, 'config.json')));
});

t.test('The CLI exits 0 after a fetch, and exits 1 with one clear message on a corrupted file.', async (t) => {
  const dir = await tempDir(t);
  const manifestFile = join(dir, 'manifest.json');
  await writeFile(manifestFile, JSON.stringify(manifest));

  const good = await hub(t);
  const ok = await runFetchCli(['--dest', join(dir, 'ok'), '--manifest', manifestFile, '--variant', 'small'], good.url);
  t.equal(ok.code, 0, 'the fetch succeeds', { stderr: ok.stderr });
  t.match(ok.stderr, /tokenizer\.json: done, 0\.7 MB, sha256 verified\n/);
  t.notMatch(ok.stderr, /\r/, 'stderr is not a TTY, so no bar redraws');
  for (const path of SMALL) t.equal(sha256Of(join(dir, 'ok', path)), sha256Of(join(STANDIN_MODEL_DIR, path)), `${path} matches the source`);

  const bad = await hub(t, { corrupt: ['tokenizer.json'] });
  const failed = await runFetchCli(['--dest', join(dir, 'bad'), '--manifest', manifestFile, '--variant', 'small'], bad.url);
  t.equal(failed.code, 1, 'the fetch fails', { stderr: failed.stderr });
  t.match(failed.stderr, /^model:fetch failed: tokenizer\.json: sha256 mismatch: expected d241a60d/m);
  t.notMatch(failed.stderr, /\n\s+at /, 'no stack trace for an expected failure');
  t.notOk(existsSync(join(dir, 'bad', 'tokenizer.json')));
});
