// The reference's API, status by status, over real HTTP against the real service and model.
import t from 'tap';
import { request as httpRequest } from 'node:http';
import { validateBulkPredictResponse } from '../dist/src/validation/validators.js';
import { postPredict, startService } from './helper.js';

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());
const url = service.url;

const isPrediction = (p: unknown): boolean =>
  Array.isArray(p) &&
  p.length === 2 &&
  p.every((x: any) => typeof x.label === 'string' && typeof x.score === 'number') &&
  p[0].score >= p[1].score &&
  new Set(p.map((x: any) => x.label)).size === 2;

t.test('a list of texts gets one prediction list per text, in input order, every label sorted by score', async (t) => {
  const res = await postPredict(url, { text: ['I love you!', 'I hate you!', 'A masterpiece.', 'I love you!'] });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.equal(res.body.predictions.length, 4);
  t.ok(res.body.predictions.every(isPrediction), 'each text has both labels, by descending score');
  t.same(res.body.predictions[3], res.body.predictions[0], 'a repeated text gets the same prediction');
  for (const p of res.body.predictions) t.ok(Math.abs(p[0].score + p[1].score - 1) < 1e-6, 'scores are a softmax');
  t.same(Object.keys(res.body), ['predictions']);
  t.ok(validateBulkPredictResponse(res.body), 'the body matches schemas/bulk-predict-response.json');
  t.same(validateBulkPredictResponse.errors ?? null, null);
  t.notOk(validateBulkPredictResponse({ predictions: [[{ label: 'POSITIVE' }]] }), 'and the validator does reject a wrong body');
});

t.test('a body with no Content-Type header is accepted, as the reference load test sends it', async (t) => {
  const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const body = JSON.stringify({ text: ['I love you!'] });
    const req = httpRequest(
      `${url}/project/bulk-predict`,
      { method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  t.equal(raw.status, 200);
  t.ok(isPrediction(JSON.parse(raw.body).predictions[0]));
});

t.test('application/json with a charset, and +json types, are accepted', async (t) => {
  for (const type of ['application/json; charset=utf-8', 'Application/JSON;charset=UTF-8', 'application/vnd.api+json']) {
    const res = await postPredict(url, { text: ['fine'] }, { headers: { 'content-type': type } });
    t.equal(res.status, 200, type);
  }
});

t.test('another media type gets 415 with a JSON error', async (t) => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const res = await postPredict(url, { text: ['fine'] }, { headers: { 'content-type': type } });
    t.equal(res.status, 415, type);
    t.match(res.body, { detail: /Unsupported Media Type/ });
  }
});

t.test('an empty list gets an empty list of predictions', async (t) => {
  const res = await postPredict(url, { text: [] });
  t.equal(res.status, 200);
  t.same(res.body, { predictions: [] });
});

t.test('keys other than text are ignored', async (t) => {
  const res = await postPredict(url, { text: ['ok'], model: 'other', extra: { a: 1 } });
  t.equal(res.status, 200);
  t.equal(res.body.predictions.length, 1);
});

t.test('a text longer than 512 tokens is truncated, not rejected', async (t) => {
  const long = Array.from({ length: 600 }, (_, i) => `word${i % 7}`).join(' ');
  const res = await postPredict(url, { text: [long, 'short'] });
  t.equal(res.status, 200);
  t.ok(res.body.predictions.every(isPrediction));
});

t.test('each validation error has the reference type and loc', async (t) => {
  const cases: [string, unknown, object[]][] = [
    ['no text', { texts: ['a'] }, [{ type: 'missing', loc: ['body', 'text'], msg: 'Field required', input: { texts: ['a'] } }]],
    ['text not a list', { text: 'a' }, [{ type: 'list_type', loc: ['body', 'text'], input: 'a' }]],
    ['text an object', { text: { a: 1 } }, [{ type: 'list_type', loc: ['body', 'text'] }]],
    [
      'items not strings',
      { text: ['ok', 1, null, 'ok', ['x']] },
      [
        { type: 'string_type', loc: ['body', 'text', 1], input: 1 },
        { type: 'string_type', loc: ['body', 'text', 2], input: null },
        { type: 'string_type', loc: ['body', 'text', 4], input: ['x'] },
      ],
    ],
    ['body a list', [1, 2], [{ type: 'model_attributes_type', loc: ['body'] }]],
  ];
  for (const [name, body, detail] of cases) {
    const res = await postPredict(url, body);
    t.equal(res.status, 422, name);
    t.match(res.body, { detail }, name);
    t.equal(res.body.detail.length, detail.length, `${name}: one entry per error`);
  }
});

t.test('a body that is not JSON gets 422 json_invalid', async (t) => {
  const res = await postPredict(url, '{"text": ["a",', { raw: true });
  t.equal(res.status, 422);
  t.match(res.body, { detail: [{ type: 'json_invalid', loc: ['body', Number], msg: 'JSON decode error' }] });
});

t.test('an empty body gets 422 missing at body', async (t) => {
  const res = await postPredict(url, '', { raw: true });
  t.equal(res.status, 422);
  t.match(res.body, { detail: [{ type: 'missing', loc: ['body'] }] });
});

t.test('more texts than the limit get 422 too_long', async (t) => {
  const res = await postPredict(url, { text: Array.from({ length: 1001 }, () => 'a') });
  t.equal(res.status, 422);
  t.match(res.body, { detail: [{ type: 'too_long', loc: ['body', 'text'], ctx: { max_length: 1000, actual_length: 1001 } }] });
  const ok = await postPredict(url, { text: Array.from({ length: 1000 }, () => 'a') });
  t.equal(ok.status, 200, 'exactly the limit is accepted');
});

t.test('a body over the size limit gets 413', async (t) => {
  const res = await postPredict(url, JSON.stringify({ text: ['x'.repeat(1024 * 1024 + 1)] }), { raw: true });
  t.equal(res.status, 413);
  t.match(res.body, { detail: /larger than 1048576 bytes/ });
});

t.test('an unknown path is 404 and a wrong method on a known path is 405, in FastAPI shape', async (t) => {
  const missing = await fetch(`${url}/project/nope`);
  t.equal(missing.status, 404);
  t.same(await missing.json(), { detail: 'Not Found' });
  const wrong = await fetch(`${url}/project/bulk-predict`);
  t.equal(wrong.status, 405);
  t.same(await wrong.json(), { detail: 'Method Not Allowed' });
  t.equal(wrong.headers.get('allow'), 'POST');
  const wrongHealth = await fetch(`${url}/project/health`, { method: 'DELETE' });
  t.equal(wrongHealth.status, 405);
});

t.test('health is 200 with the reference body once warm', async (t) => {
  const res = await fetch(`${url}/project/health`);
  t.equal(res.status, 200);
  t.same(await res.json(), { status: 'healthy' });
});

t.test('openapi.json is an OpenAPI 3.1.0 document generated from the schemas', async (t) => {
  const res = await fetch(`${url}/project/openapi.json`);
  t.equal(res.status, 200);
  const doc: any = await res.json();
  t.equal(doc.openapi, '3.1.0');
  t.ok(doc.paths['/project/bulk-predict'].post.responses['422']);
  t.same(doc.components.schemas.BulkPredictRequest.required, ['text']);
  t.equal(doc.components.schemas.BulkPredictRequest.properties.text.maxItems, 1000);
  t.ok(doc.components.schemas.BulkPredictResponse);
});

t.test('docs serve Swagger UI from the local package, with no CDN', async (t) => {
  const page = await fetch(`${url}/project/docs`);
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(html, /swagger-ui-bundle\.js/);
  t.notMatch(html, /https?:\/\//, 'no external URL');
  const bundle = await fetch(`${url}/project/docs/swagger-ui-bundle.js`);
  t.equal(bundle.status, 200);
  t.ok((await bundle.text()).length > 100_000);
  t.equal((await fetch(`${url}/project/docs/swagger-ui.css`)).status, 200);
  t.equal((await fetch(`${url}/project/docs/nothing.js`)).status, 404);
});
