// GET /project/info: the served model and the limits requests meet, in the shape the OpenAPI document declares.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { repoRoot, startService, STANDIN_MODEL_DIR } from './helper.js';
import { loadModelInfo } from '../dist/src/model-loading/model-info.js';

const service = await startService({
  WORKERS: '1',
  MAX_TEXTS: '64',
  MAX_BATCH_SIZE: '8',
  MAX_BATCH_TOKENS: '2048',
  MAX_QUEUE_TOKENS: '8192',
});
t.teardown(() => service.stop());

/** The OpenAPI document's component schemas, compiled as the JSON Schema 2020-12 that OpenAPI 3.1 uses. */
async function openApiValidator(): Promise<{ doc: any; validate(name: string, value: unknown): string | undefined }> {
  const doc: any = await (await fetch(`${service.url}/project/openapi.json`)).json();
  const ajv = new Ajv2020.default({ strict: true, allErrors: true });
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(schema as object, `#/components/schemas/${name}`);
  return {
    doc,
    validate(name, value) {
      const check = ajv.getSchema(`#/components/schemas/${name}`)!;
      return check(value) ? undefined : ajv.errorsText(check.errors);
    },
  };
}

t.test('info answers 200 with the model, its identity and the live limits, valid against the OpenAPI document', async (t) => {
  const res = await fetch(`${service.url}/project/info`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  const info = await res.json();
  const { doc, validate } = await openApiValidator();
  t.equal(validate('InfoResponse', info), undefined, 'matches InfoResponse');
  t.same(doc.paths['/project/info'].get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/InfoResponse' });
  const onnx = join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx');
  t.same(info, {
    // MODEL_DIR without model.lock.json: where it came from is not known.
    model_id: null,
    model_revision: null,
    model_file: 'onnx/model_quantized.onnx',
    model_sha256: createHash('sha256').update(readFileSync(onnx)).digest('hex'),
    problem_type: 'single_label_classification',
    labels: ['NEGATIVE', 'POSITIVE'],
    max_input_length: 512,
    max_client_batch_size: 64,
    max_batch_size: 8,
    max_batch_tokens: 2048,
    max_queue_tokens: 8192,
    workers: 1,
    version: JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version,
  });
});

t.test('every schema of the OpenAPI document compiles, and every $ref resolves', async (t) => {
  const { doc } = await openApiValidator();
  const refs = JSON.stringify(doc.paths).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
  for (const ref of new Set(refs)) t.ok(doc.components.schemas[JSON.parse(ref).split('/').pop()], `${ref} exists`);
  const prediction = await fetch(`${service.url}/project/bulk-predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: ['I love you!'] }),
  });
  const { validate } = await openApiValidator();
  t.equal(validate('BulkPredictResponse', await prediction.json()), undefined, 'a prediction matches BulkPredictResponse');
});

t.test('info takes GET only', async (t) => {
  const res = await fetch(`${service.url}/project/info`, { method: 'POST' });
  t.equal(res.status, 405);
  t.equal(res.headers.get('allow'), 'GET, HEAD');
});

t.test("the repository and revision are the pinned manifest's when the ONNX file is one it pins, else unknown", async (t) => {
  const sha = createHash('sha256')
    .update(readFileSync(join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx')))
    .digest('hex');
  const pin = { repo: 'owner/pinned', revision: 'abc123' };
  const pinned = await loadModelInfo(STANDIN_MODEL_DIR, undefined, 512, { ...pin, onnxSha256s: ['0'.repeat(64), sha] });
  t.match(pinned, pin);
  const other = await loadModelInfo(STANDIN_MODEL_DIR, undefined, 512, { ...pin, onnxSha256s: ['0'.repeat(64)] });
  t.match(other, { repo: null, revision: null });
});
