// The served OpenAPI document teaches the API: it validates as OpenAPI 3.1, its examples are in the loaded
// model's labels, it declares the headers the responses really carry, and its prose comes from
// schemas/api-docs.json with every error code of the route.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv from 'ajv';
import { ApiDocs } from '../dist/src/generated/schemas.js';
import { Errors, HttpError } from './http-errors.js';
import { buildOpenApi } from '../dist/src/http/openapi.js';
import { ApiKeyGuard } from '../dist/src/http/api-keys.js';
import { loadConfig } from '../dist/src/config.js';
import { validateBulkPredictResponse } from '../dist/src/validation/validators.js';
import { postPredict, STANDIN_MODEL_DIR, startService } from './helper.js';

const id2label = JSON.parse(readFileSync(join(STANDIN_MODEL_DIR, 'config.json'), 'utf8')).id2label as Record<string, string>;
const modelLabels = Object.values(id2label);

const service = await startService({ WORKERS: '1', MAX_TEXTS: '50' });
t.teardown(() => service.stop());
const doc: any = await (await fetch(`${service.url}/project/openapi.json`)).json();
const predict = doc.paths['/project/bulk-predict'].post;
const health = doc.paths['/project/health'].get;
const TIMING = ['x-queue-time', 'x-inference-time', 'x-total-time'];

const sumsToOne = (list: { score: number }[]) => Math.abs(list.reduce((sum, p) => sum + p.score, 0) - 1) < 1e-6;
const descending = (list: { score: number }[]) => list.every((p, i) => i === 0 || list[i - 1].score >= p.score);

t.test('the document validates as OpenAPI 3.1 and every $ref resolves', async (t) => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  t.same(result.errors ?? [], [], 'no schema errors');
  t.ok(result.valid);
  t.equal(validator.version, '3.1');
  t.doesNotThrow(() => validator.resolveRefs());
});

t.test("the request example is two real sentences; the response example is in the loaded model's labels", async (t) => {
  t.same(predict.requestBody.content['application/json'].example, { text: ['I love you!', 'I hate you!'] });
  t.same(modelLabels.sort(), ['NEGATIVE', 'POSITIVE'], 'the stand-in model has the default labels');
  const example = predict.responses['200'].content['application/json'].example;
  t.ok(validateBulkPredictResponse(example), 'the example matches the response schema');
  t.equal(example.predictions.length, 2, 'one list per example text');
  for (const list of example.predictions) {
    t.same(list.map((p: { label: string }) => p.label).sort(), modelLabels, 'every label of config.json, once');
    t.ok(sumsToOne(list), 'scores sum to 1');
    t.ok(descending(list), 'by descending score');
    t.ok(list[0].score > 0.9 && list[0].score < 1, 'a confident, plausible score');
  }
  t.equal(example.predictions[0][0].label, 'POSITIVE', '"I love you!" is positive');
  t.equal(example.predictions[1][0].label, 'NEGATIVE', '"I hate you!" is negative');
  t.notMatch(JSON.stringify(doc), /"string"\s*,\s*"score"|"label":"string"/, 'no placeholder labels');
});

t.test('the example request, sent, gets a response of the documented shape and headers', async (t) => {
  const res = await postPredict(service.url, predict.requestBody.content['application/json'].example);
  t.equal(res.status, 200);
  t.ok(validateBulkPredictResponse(res.body));
  t.same(
    res.body.predictions.map((list: { label: string }[]) => list.map((p) => p.label).sort()),
    [modelLabels, modelLabels],
  );
  for (const name of Object.keys(predict.responses['200'].headers)) t.ok(res.headers.get(name) !== null, `200 carries ${name}`);
  const bad = await postPredict(service.url, '{"text": [', { raw: true });
  t.same(
    bad.body,
    predict.responses['422'].content['application/json'].examples.json_invalid.value,
    'the 422 example is what the server answers',
  );
  for (const name of Object.keys(predict.responses['422'].headers)) t.ok(bad.headers.get(name) !== null, `422 carries ${name}`);
});

t.test('each response declares its headers, with descriptions', async (t) => {
  t.same(Object.keys(predict.responses['200'].headers).sort(), [
    'x-cache',
    'x-inference-time',
    'x-queue-time',
    'x-request-id',
    'x-total-time',
  ]);
  for (const [status, response] of Object.entries(predict.responses) as [string, { headers: Record<string, unknown> }][]) {
    t.ok(response.headers['x-request-id'], `${status} declares x-request-id`);
    t.equal(Boolean(response.headers['Retry-After']), status === '503', `${status}: Retry-After only on 503`);
  }
  for (const [name, header] of Object.entries(doc.components.headers) as [string, { description: string; schema: object }][]) {
    t.equal(
      header.description,
      (ApiDocs.headers as Record<string, string>)[name],
      `${name} has its description from schemas/api-docs.json`,
    );
    t.ok(header.schema, `${name} has a schema`);
  }
  t.same(doc.components.headers['x-cache'].schema.enum, ['hit', 'miss', 'partial']);
});

t.test('operations have tags, summaries and descriptions; 422 says what went wrong', async (t) => {
  const tagNames = doc.tags.map((tag: { name: string; description: string }) => tag.name);
  t.ok(
    doc.tags.every((tag: { description: string }) => tag.description.length > 20),
    'tags are described',
  );
  for (const [name, op] of [
    ['bulk-predict', predict],
    ['health', health],
  ]) {
    t.equal(op.tags.length, 1, `${name} has a tag`);
    t.ok(tagNames.includes(op.tags[0]) && op.tags[0] !== 'default', `${name}'s tag is declared`);
    t.ok(op.summary, `${name} has a summary`);
  }
  t.ok(predict.description.startsWith(ApiDocs.operations.bulkPredict.description));
  for (const topic of [
    'Caching',
    'Truncation',
    'Limits',
    'Errors',
    'MAX_TOKENS',
    'MAX_TEXTS',
    'MAX_BODY_BYTES',
    'MAX_QUEUE_TOKENS',
    'MAX_QUEUE_DELAY_MS',
    'REQUEST_TIMEOUT_MS',
  ]) {
    t.match(predict.description, topic, `bulk-predict describes ${topic}`);
  }
  t.match(predict.description, '`MAX_TEXTS` = 50', "this server's live limit");
  t.match(predict.description, 'labels `NEGATIVE`, `POSITIVE`', "this server's labels");
  t.equal(doc.components.schemas.BulkPredictRequest.properties.text.maxItems, 50);
  t.equal(health.description, ApiDocs.operations.health.description);
  t.ok(predict.responses['422'].description.endsWith(ApiDocs.responses.bulkPredict['422']), '422 text from schemas/api-docs.json');
  t.notMatch(predict.responses['422'].description, /^Validation Error$/);
  for (const type of ['json_invalid', 'missing', 'model_attributes_type', 'list_type', 'string_type', 'too_long']) {
    t.match(predict.responses['422'].description, `\`${type}\``, `422 explains ${type}`);
  }
});

t.test('every error of the route is documented under its status, with its real body as the example', async (t) => {
  // Routing errors, and those of the HF and Open Inference Protocol routes alone (the repository's: below).
  const routing = new Set([
    'INF_ERR_NOT_FOUND',
    'INF_ERR_METHOD_NOT_ALLOWED',
    'INF_ERR_INVALID_INPUT',
    'INF_ERR_MODEL_NOT_FOUND',
    'INF_ERR_MODEL_LOAD',
    'INF_ERR_MODEL_BUSY',
    'INF_ERR_MODEL_MEMORY',
  ]);
  // Only with API keys configured (below); this service runs without.
  const apiKey = new Set(['INF_ERR_API_KEY_MISSING', 'INF_ERR_API_KEY_INVALID']);
  // The TEI routes' own errors (test/tei-routes.test.ts); bulk-predict never raises them.
  const teiOnly = new Set([
    'INF_ERR_INPUT_INVALID',
    'INF_ERR_INPUT_TOO_LONG',
    'INF_ERR_INPUT_EMPTY',
    'INF_ERR_TEXTS_EMPTY',
    'INF_ERR_BATCH_TOO_LARGE',
    'INF_ERR_NOT_RERANKER',
  ]);
  // The repository extension's own errors (POST /v2/repository/models/{name}/load|unload).
  const repositoryOnly = new Set(['INF_ERR_MODEL_LOAD', 'INF_ERR_MODEL_BUSY', 'INF_ERR_MODEL_MEMORY']);
  for (const [name, factory] of Object.entries(Errors) as [string, (...args: never[]) => Error][]) {
    const error = factory('x' as never, 'y' as never);
    if (
      !(error instanceof HttpError) ||
      routing.has(error.code) ||
      apiKey.has(error.code) ||
      teiOnly.has(error.code) ||
      repositoryOnly.has(error.code)
    ) {
      continue;
    }
    const response = predict.responses[String(error.statusCode)];
    t.ok(response, `${name}: status ${error.statusCode} is declared`);
    t.match(response?.description, `\`${error.code}\``, `${error.code} is named under ${error.statusCode}`);
    t.match(response?.description, (ApiDocs.errors as Record<string, string>)[error.code], `${error.code} has its README text`);
    if (error.statusCode !== 422) {
      t.equal(
        typeof response.content['application/json'].examples[error.code]?.value.detail,
        'string',
        `${error.code} has an example body`,
      );
    }
  }
  t.same(predict.responses['504'].content['application/json'].examples.INF_ERR_TIMEOUT.value, { detail: 'Prediction timeout' });
  t.same(health.responses['503'].content['application/json'].examples.starting.value, { status: 'starting' });
});

t.test("the repository extension's routes are documented with their errors in the protocol's shape", async (t) => {
  const index = doc.paths['/v2/repository/index'].post;
  t.same(index.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/RepositoryIndexRequest' });
  t.same(index.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/RepositoryIndex' });
  const load = doc.paths['/v2/repository/models/{name}/load'].post;
  const unload = doc.paths['/v2/repository/models/{name}/unload'].post;
  const examples = (op: any, status: number) => Object.keys(op.responses[String(status)].content['application/json'].examples);
  t.same(examples(load, 404), ['INF_ERR_MODEL_NOT_FOUND']);
  t.ok(examples(load, 400).includes('INF_ERR_MODEL_LOAD'));
  t.same(examples(load, 409), ['INF_ERR_MODEL_BUSY']);
  t.same(examples(load, 507), ['INF_ERR_MODEL_MEMORY']);
  t.same(examples(unload, 409), ['INF_ERR_MODEL_BUSY']);
  t.notOk('507' in unload.responses, 'an unload needs no memory');
  for (const [code, status] of [
    ['INF_ERR_MODEL_LOAD', 400],
    ['INF_ERR_MODEL_BUSY', 409],
    ['INF_ERR_MODEL_MEMORY', 507],
  ] as const) {
    const response = load.responses[String(status)];
    t.match(response.description, ApiDocs.errors[code], `${code}: its docs/api.md text under ${status}`);
    t.equal(typeof response.content['application/json'].examples[code].value.error, 'string', `${code}: an {"error"} example`);
  }
});

t.test("the TEI routes are documented with TEI's error shape under TEI's statuses", async (t) => {
  const tei = doc.paths['/predict'].post;
  const rerank = doc.paths['/rerank'].post;
  t.ok(doc.paths['/info'].get && doc.paths['/health'].get, '/info and /health');
  t.ok(
    doc.tags.some((tag: { name: string }) => tag.name === tei.tags[0]),
    'the TEI tag is declared',
  );
  t.same(tei.responses['429'].content['application/json'].examples.INF_ERR_OVERLOADED.value, {
    error: 'Server overloaded',
    error_type: 'overloaded',
  });
  t.match(tei.responses['413'].description, '`INF_ERR_INPUT_TOO_LONG`');
  t.match(tei.responses['424'].description, '`INF_ERR_INFERENCE`');
  t.match(rerank.responses['424'].description, '`INF_ERR_NOT_RERANKER`');
  t.same(rerank.responses['400'].content['application/json'].examples.INF_ERR_TEXTS_EMPTY.value, {
    error: '`texts` cannot be empty',
    error_type: 'empty',
  });
  // The documented 413 is what the server answers.
  const res = await postPredict(service.url, { inputs: 'a '.repeat(600) }, { path: '/predict' });
  t.equal(res.status, 413);
  t.same(
    Object.keys(res.body).sort(),
    Object.keys(tei.responses['413'].content['application/json'].examples.INF_ERR_INPUT_TOO_LONG.value).sort(),
  );
});

t.test("the examples follow any model's labels, and the timing headers follow TIMING_HEADERS", async (t) => {
  const config = {
    basePath: '',
    maxTexts: 5,
    maxBodyBytes: 4096,
    maxTokens: 128,
    maxQueueTokens: 1024,
    maxQueueDelayMs: 100,
    requestTimeoutMs: 100,
    timingHeaders: false,
  };
  const other = JSON.parse(buildOpenApi({ config, labels: ['anger', 'joy', 'sadness'], version: '1' }));
  const op = other.paths['/bulk-predict'].post;
  const [love, hate] = op.responses['200'].content['application/json'].example.predictions;
  for (const list of [love, hate]) {
    t.same(list.map((p: { label: string }) => p.label).sort(), ['anger', 'joy', 'sadness']);
    t.ok(sumsToOne(list) && descending(list));
  }
  t.equal(love[0].label, 'sadness', 'no label named positive: the last id');
  t.equal(hate[0].label, 'anger', 'no label named negative: id 0');
  t.same(Object.keys(op.responses['200'].headers).sort(), ['x-cache', 'x-request-id'], 'no timing headers when they are off');
  t.ok(TIMING.every((name) => !(name in op.responses['200'].headers)));
});

t.test('without API keys no operation asks for one; with them the protected ones declare the bearer scheme and their 401', async (t) => {
  t.equal(doc.components.securitySchemes, undefined, 'no scheme when no keys are configured');
  t.notOk(JSON.stringify(doc).includes('"security"'), 'no operation has security');
  const config = loadConfig({ API_KEYS: 'k' });
  for (const routes of [['predict'], ['predict', 'info', 'health']] as const) {
    const guard = new ApiKeyGuard(['k'], new Set(routes));
    const keyed = JSON.parse(buildOpenApi({ config, labels: modelLabels, version: '1', apiKeys: guard }));
    const validator = new Validator();
    const result = await validator.validate(structuredClone(keyed));
    t.same(result.errors ?? [], [], `${routes}: valid OpenAPI 3.1`);
    t.same(keyed.components.securitySchemes, { apiKey: { type: 'http', scheme: 'bearer', description: ApiDocs.apiKeys.scheme } });
    const ops = {
      predict: keyed.paths['/project/bulk-predict'].post,
      info: keyed.paths['/project/info'].get,
      health: keyed.paths['/project/health'].get,
    };
    for (const [group, op] of Object.entries(ops)) {
      const guarded = (routes as readonly string[]).includes(group);
      t.same(op.security, guarded ? [{ apiKey: [] }] : undefined, `${routes}: ${group} ${guarded ? 'asks for' : 'does not ask for'} a key`);
      t.equal('401' in op.responses, guarded);
    }
    const unauthorized = ops.predict.responses['401'];
    for (const code of ['INF_ERR_API_KEY_MISSING', 'INF_ERR_API_KEY_INVALID'] as const) {
      t.match(unauthorized.description, ApiDocs.errors[code], `${code} has its docs/api.md text`);
      t.equal(typeof unauthorized.content['application/json'].examples[code].value.detail, 'string');
    }
    t.ok(unauthorized.headers['WWW-Authenticate'].description, 'the challenge header is documented');
  }
});

t.test('/project/docs/ redirects to /project/docs, and the page is made for small screens too', async (t) => {
  const res = await fetch(`${service.url}/project/docs/`, { redirect: 'manual' });
  t.equal(res.status, 301);
  t.equal(res.headers.get('location'), '/project/docs');
  const withQuery = await fetch(`${service.url}/project/docs/?tab=1`, { redirect: 'manual' });
  t.equal(withQuery.headers.get('location'), '/project/docs?tab=1');
  const followed = await fetch(`${service.url}/project/docs/`);
  t.equal(followed.status, 200);
  t.equal(new URL(followed.url).pathname, '/project/docs');
  t.match(await followed.text(), /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  t.equal((await fetch(`${service.url}/project/docs/`, { method: 'POST' })).status, 405);
});

t.test('the HF and Open Inference Protocol routes are documented, and real answers match their schemas', async (t) => {
  const paths = Object.keys(doc.paths);
  for (const path of ['/', '/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/{name}', '/v2/models/{name}/infer']) {
    t.ok(paths.includes(path), `${path} is documented`);
  }
  const hf = doc.paths['/'].post;
  const infer = doc.paths['/v2/models/{name}/infer'].post;
  t.same(hf.responses['400'].content['application/json'].examples.INF_ERR_INVALID_INPUT.value, { error: 'inputs[1] must be string' });
  t.same(infer.responses['404'].content['application/json'].examples.INF_ERR_MODEL_NOT_FOUND.value, { error: 'Model other not found' });
  t.match(infer.responses['400'].description, ApiDocs.errors.INF_ERR_INVALID_INPUT);
  const tagNames = doc.tags.map((tag: { name: string }) => tag.name);
  for (const op of [hf, infer]) t.ok(tagNames.includes(op.tags[0]), `${op.summary}: tag declared`);
  // The document's own schemas, resolved against it, accept what the server answers.
  const ajv = new Ajv.default({ strict: false });
  ajv.addSchema({ ...doc, $id: 'doc' });
  const schema = (name: string) => ajv.getSchema(`doc#/components/schemas/${name}`)!;
  const classified = await postPredict(service.url, { inputs: ['I love you!', 'I hate you!'] }, { path: '/' });
  t.ok(schema('HfTextClassificationResponse')(classified.body), 'POST / answer');
  const metadata = await (await fetch(`${service.url}/v2/models/distilbert-sst2-standin`)).json();
  t.ok(schema('OipModelMetadata')(metadata), 'model metadata');
  const body = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['I love you!'] }] };
  const inferred = await postPredict(service.url, body, { path: '/v2/models/distilbert-sst2-standin/infer' });
  t.ok(schema('OipInferRequest')(body), 'the request');
  t.ok(schema('OipInferResponse')(inferred.body), 'the infer answer');
  const refused = await postPredict(service.url, { inputs: 3 }, { path: '/' });
  t.ok(schema('ErrorMessage')(refused.body), 'an error');
});

t.test('the routes that name their model are documented with a `name` path parameter and their 404', async (t) => {
  const named: [string, string][] = [
    ['/project/models/{name}/bulk-predict', 'post'],
    ['/project/models/{name}/info', 'get'],
    ['/models/{name}', 'post'],
    ['/v2/models/{name}', 'get'],
    ['/v2/models/{name}/ready', 'get'],
    ['/v2/models/{name}/infer', 'post'],
    ['/v2/models/{name}/versions/{version}/infer', 'post'],
  ];
  for (const [path, method] of named) {
    const item = doc.paths[path];
    t.ok(item?.[method], `${method.toUpperCase()} ${path} is documented`);
    const name = item.parameters.find((p: { name: string }) => p.name === 'name');
    t.same([name.in, name.required, name.schema.type], ['path', true, 'string'], `${path}: name is a required path parameter`);
    t.match(name.description, '/project/models', `${path}: says where the names are listed`);
    const notFound = item[method].responses['404'];
    t.match(notFound.description, '`INF_ERR_MODEL_NOT_FOUND`', `${path}: 404 for a name not served`);
    const example = notFound.content['application/json'].examples.INF_ERR_MODEL_NOT_FOUND.value;
    t.same(
      example,
      path.startsWith('/project') ? { detail: 'Model other not found' } : { error: 'Model other not found' },
      `${path}: the family's shape`,
    );
  }
  const bulk = doc.paths['/project/models/{name}/bulk-predict'].post;
  t.same(bulk.requestBody, predict.requestBody, 'the named bulk-predict takes the same body');
  t.same(Object.keys(bulk.responses), Object.keys(predict.responses), 'and answers the same statuses');
  t.equal(
    predict.responses['404'].content['application/json'].examples.INF_ERR_MODEL_NOT_FOUND.value.detail,
    'Model other not found',
    'the unnamed route too: its default model may be unloaded',
  );
  t.same(doc.paths['/models/{name}'].post.requestBody, doc.paths['/'].post.requestBody, 'HF by name: the same body as POST /');
  const operationIds = Object.values(doc.paths).flatMap((item: any) => Object.values(item).flatMap((op: any) => op?.operationId ?? []));
  t.equal(new Set(operationIds).size, operationIds.length, 'operation ids are unique');

  const models = doc.paths['/project/models'].get;
  t.equal(models.description, ApiDocs.operations.models.description);
  const ajv = new Ajv.default({ strict: false });
  ajv.addSchema({ ...doc, $id: 'doc' });
  const list: any = await (await fetch(`${service.url}/project/models`)).json();
  t.ok(ajv.getSchema('doc#/components/schemas/ModelsResponse')!(list), 'GET /project/models matches ModelsResponse');
  t.same(
    list.map((m: { name: string; default: boolean }) => [m.name, m.default]),
    [['distilbert-sst2-standin', true]],
    'MODEL_DIR alone: a repository of one, the default',
  );
  const info = await (await fetch(`${service.url}/project/models/distilbert-sst2-standin/info`)).json();
  t.same(info, await (await fetch(`${service.url}/project/info`)).json(), "the model's /info by name");
});
