// The pinned manifest of the real model, and the validation that guards every manifest.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { filesOf, loadManifest, parseManifest } from '../dist/model/manifest.js';
import { repoRoot, STANDIN_MODEL_DIR } from './helper.js';

t.test('model/manifest.json pins the real model by size and sha256.', async (t) => {
  const manifest = await loadManifest(join(repoRoot, 'model', 'manifest.json'));
  t.equal(manifest.repo, 'Xenova/distilbert-base-uncased-finetuned-sst-2-english');
  t.equal(manifest.defaultVariant, 'quantized');
  t.same(
    filesOf(manifest, 'quantized').map((f) => [f.path, f.size, f.sha256]),
    [
      ['config.json', null, null],
      // Byte-identical to the stand-in's tokenizer.json, so the stand-in gives the size.
      [
        'tokenizer.json',
        statSync(join(STANDIN_MODEL_DIR, 'tokenizer.json')).size,
        'd241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66',
      ],
      ['tokenizer_config.json', null, null],
      ['onnx/model_quantized.onnx', 67_581_197, '79b45c7fd8c2673aa53615aba07caeb2de798f63a95a2393a365982429c94f7f'],
    ],
  );
  t.same(manifest.variants.fp32, [
    { path: 'onnx/model.onnx', size: 267_955_711, sha256: '252cf7048af94a1599019fef35961b2bd3d6db13df0b0a4b032b92baeae31939' },
  ]);
  const raw = JSON.parse(readFileSync(join(repoRoot, 'model', 'manifest.json'), 'utf8'));
  t.ok(
    raw.files.filter((f: { sha256: unknown }) => f.sha256 === null).every((f: { comment?: string }) => f.comment),
    'every unpinned file says why',
  );
});

const valid = { repo: 'owner/name', revision: 'main', defaultVariant: 'q', files: [], variants: { q: [] } };

t.test('A manifest path that could leave the destination directory is refused.', async (t) => {
  for (const path of ['../x', '/etc/passwd', 'onnx/../../x', 'a//b', '']) {
    t.throws(
      () => parseManifest({ ...valid, files: [{ path, size: null, sha256: null }] }, 'm.json'),
      {
        code: 'MODEL_ERR_MANIFEST',
        message: /^invalid model manifest m\.json: files\[0\]: path must be a relative path/,
      },
      JSON.stringify(path),
    );
  }
});

t.test('A malformed hash, a missing hash field or an unknown variant is refused with a message saying which.', async (t) => {
  t.throws(() => parseManifest({ ...valid, files: [{ path: 'a', size: 1, sha256: 'ABC' }] }), {
    message: /files\[0\]: sha256 must be 64 lowercase hex digits or null/,
  });
  t.throws(
    () => parseManifest({ ...valid, files: [{ path: 'a', size: 1 }] }),
    { message: /files\[0\]: sha256 must be/ },
    'null must be explicit',
  );
  t.throws(() => parseManifest({ ...valid, defaultVariant: 'fp16' }), { message: /defaultVariant "fp16" is not in variants/ });
  t.throws(() => filesOf(parseManifest(valid), 'fp32'), {
    code: 'MODEL_ERR_USAGE',
    message: 'unknown variant "fp32"; this manifest has: q',
  });
});
