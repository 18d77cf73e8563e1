// API keys over real HTTP, on the real service: API_KEYS with the default API_KEY_ROUTES=predict (bulk-predict
// needs a key; health, info, docs and metrics stay open), and API_KEYS_FILE laid out as the kubelet mounts a
// Secret, with API_KEY_ROUTES=all and a rotation of the Secret while the service runs. Every refusal is a 401
// with the RFC 6750 challenge, counted by reason, and no key ever appears in the service's output.
import t, { type Test } from 'tap';
import { secretMount } from './secret-mount.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exposition, logRecords, metric, postPredict, startService, waitFor, type ServiceProcess } from './helper.js';
import { type Exchange, exchange } from './raw-http.js';

const KEYS = ['key-one-3f9a1c', 'KEY_two.7b2e+/==', 'k3~d41d8cd98f'];
const FILE_KEYS = ['file-key-a1b2c3', 'file-key-d4e5f6'];
const ROTATED_KEY = 'rotated-key-9z8y7x';
const REALM = 'Bearer realm="sentiment-inference"';
const BODY = { text: ['I love you!'] };
const json = { 'content-type': 'application/json' };
const bearer = (key: string) => ({ ...json, authorization: `Bearer ${key}` });

/** Status, WWW-Authenticate, body and Connection of one request with the given headers. */
async function call(url: string, path: string, headers: Record<string, string>, method = 'GET') {
  const res = await fetch(`${url}${path}`, { method, headers, body: method === 'POST' ? JSON.stringify(BODY) : undefined });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text(), headers: res.headers };
}

/** Writes `request` on a fresh socket and collects what the server sends until it closes (or `waitMs`). */
const rawExchange = (port: number, request: string, waitMs = 2000): Promise<Exchange> => exchange(port, [request], waitMs);

async function refusals(url: string): Promise<{ missing: number; invalid: number; predict401: number }> {
  const text = await exposition(url, { authorization: `Bearer ${KEYS[0]}` });
  const read = (sample: string) => metric(text, sample, 0);
  return {
    missing: read('inf_api_key_refusals_total{reason="missing"}'),
    invalid: read('inf_api_key_refusals_total{reason="invalid"}'),
    predict401: read('inf_http_requests_total{route="bulk-predict",status="401"}'),
  };
}

function assertNoKeyLogged(t: Test, service: ServiceProcess, keys: readonly string[]): void {
  const output = service.output();
  t.ok(logRecords(output).length > 5, 'the service logged (the check below reads real lines)');
  for (const key of keys) t.notOk(output.includes(key), `no log line holds ${key.slice(0, 4)}…`);
}

t.test('API_KEYS with the default API_KEY_ROUTES=predict', async (t) => {
  // debug: one line per request and per refusal, so the no-key-in-logs check covers the request path too.
  const service = await startService({ API_KEYS: ` ${KEYS.join(' , ')} `, LOG_LEVEL: 'debug' });
  t.teardown(() => service.stop());
  const { url } = service;
  const before = await refusals(url);

  t.test('each key, however the scheme is spelt, gets predictions', async (t) => {
    for (const key of KEYS) {
      const answer = await postPredict(url, BODY, { headers: bearer(key) });
      t.equal(answer.status, 200, `key ${KEYS.indexOf(key) + 1}`);
      t.equal(answer.body.predictions.length, 1);
    }
    for (const authorization of [`bearer ${KEYS[0]}`, `BEARER ${KEYS[1]}`, `Bearer   ${KEYS[2]}`, ` Bearer ${KEYS[0]} `]) {
      t.equal((await postPredict(url, BODY, { headers: { ...json, authorization } })).status, 200, JSON.stringify(authorization));
    }
  });

  t.test('no key, or none the server knows: 401 with the challenge, before the body is read', async (t) => {
    const missingHeaders: Record<string, string>[] = [
      json,
      { ...json, authorization: '' },
      { ...json, authorization: 'Bearer' },
      { ...json, authorization: 'Bearer    ' },
      { ...json, authorization: `Basic ${Buffer.from(`user:${KEYS[0]}`).toString('base64')}` },
      { ...json, authorization: KEYS[0] },
      { ...json, authorization: `Token ${KEYS[0]}` },
    ];
    for (const headers of missingHeaders) {
      const answer = await call(url, '/project/bulk-predict', headers, 'POST');
      const what = JSON.stringify(headers.authorization ?? 'no header');
      t.equal(answer.status, 401, `${what}: 401`);
      t.equal(answer.challenge, REALM, `${what}: challenge without an error code (no key was sent)`);
      t.same(JSON.parse(answer.body), { detail: 'Not authenticated' }, `${what}: FastAPI's shape`);
      t.match(answer.headers.get('x-request-id'), /\S/, 'with the request id');
    }
    const invalidHeaders = [
      'wrong-key',
      KEYS[0].slice(0, -1),
      `${KEYS[0]}x`,
      KEYS[0].toUpperCase(),
      `${KEYS[0]} ${KEYS[1]}`,
      `${KEYS[0]},${KEYS[1]}`,
      'x'.repeat(1000),
      '%00',
    ];
    for (const key of invalidHeaders) {
      const answer = await call(url, '/project/bulk-predict', bearer(key), 'POST');
      t.equal(answer.status, 401, `Bearer ${key.slice(0, 20)}: 401`);
      t.equal(answer.challenge, `${REALM}, error="invalid_token"`);
      t.same(JSON.parse(answer.body), { detail: 'Invalid API key' });
      t.notOk(answer.body.includes(key), 'the body does not echo the key');
    }
    const after = await refusals(url);
    t.equal(after.missing - before.missing, missingHeaders.length, 'inf_api_key_refusals_total{reason="missing"} counts each');
    t.equal(after.invalid - before.invalid, invalidHeaders.length, 'inf_api_key_refusals_total{reason="invalid"} counts each');
    t.equal(after.predict401 - before.predict401, missingHeaders.length + invalidHeaders.length, 'and bulk-predict counts its 401s');
  });

  t.test('a 401 to a request with a body leaves the body unread and closes the connection', async (t) => {
    // Headers, and only the start of a 512 KiB body: the answer comes without waiting for the rest.
    const head = 'POST /project/bulk-predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 524288\r\n\r\n';
    const partial = await rawExchange(service.port, `${head}{"text": ["`);
    t.match(partial.text, /^HTTP\/1\.1 401 Unauthorized\r\n/, '401 before the body arrived');
    t.match(partial.text, /\r\nwww-authenticate: Bearer realm="sentiment-inference"\r\n/i);
    t.match(partial.text, /\{"detail":"Not authenticated"\}$/);
    t.ok(partial.closed, 'the connection is closed: the rest of the body is not read as a request');

    // A body that is itself a request, sent whole: it is skipped by its Content-Length, never answered as a request.
    const inner = 'GET /project/info HTTP/1.1\r\nHost: x\r\n\r\n';
    const post = `POST /project/bulk-predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`;
    const whole = await rawExchange(service.port, post, 1000);
    t.equal(whole.text.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer: the body was not read as a request');
    t.match(whole.text, /^HTTP\/1\.1 401 /);
    t.match(whole.text, /\r\nConnection: close\r\n/, 'and says the connection closes');
    t.match(whole.text, /error="invalid_token"/);

    // A whole body sent at once with the refusal: the client reads its 401 (no reset).
    const big = JSON.stringify({ text: Array.from({ length: 2000 }, (_, i) => `text number ${i}`) });
    const answer = await fetch(`${url}/project/bulk-predict`, { method: 'POST', headers: json, body: big });
    t.equal(answer.status, 401, `a ${big.length}-byte body gets its 401`);
    t.equal(answer.headers.get('connection'), 'close');
    await answer.text();
  });

  t.test("the other protocols' prediction routes need the key too, and refuse in their own error shape", async (t) => {
    const routes = [
      { path: '/', body: { inputs: 'I love you!' } },
      { path: '/predict', body: { inputs: 'I love you!' } },
      {
        path: '/v2/models/distilbert-sst2-standin/infer',
        body: { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['I love you!'] }] },
      },
    ];
    for (const { path, body } of routes) {
      const post = (headers: Record<string, string>) => fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      const none = await post(json);
      t.equal(none.status, 401, `${path} without a key`);
      t.equal(none.headers.get('www-authenticate'), REALM);
      t.match(await none.json(), { error: 'Not authenticated' }, `${path}: the {"error"} body its clients read`);
      const wrong = await post(bearer('wrong-key'));
      t.equal(wrong.status, 401, `${path} with a wrong key`);
      t.match(await wrong.json(), { error: 'Invalid API key' });
      const right = await post(bearer(KEYS[1]!));
      t.equal(right.status, 200, `${path} with a key`);
      await right.text();
    }
    for (const path of ['/v2/health/live', '/v2/health/ready', '/v2', '/v2/models/distilbert-sst2-standin']) {
      t.equal((await call(url, path, {})).status, 200, `${path} stays open (health and info groups)`);
    }
  });

  t.test('health, info, docs and metrics stay open, with or without a key', async (t) => {
    for (const path of [
      '/project/health',
      '/project/info',
      '/project/openapi.json',
      '/project/docs',
      '/project/docs/swagger-ui.css',
      '/metrics',
    ]) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${KEYS[0]}` }] as Record<string, string>[]) {
        t.equal((await call(url, path, headers)).status, 200, `${path} ${JSON.stringify(headers)}`);
      }
    }
  });

  t.test('the OpenAPI document declares the bearer scheme on bulk-predict only', async (t) => {
    const doc: any = await (await fetch(`${url}/project/openapi.json`)).json();
    t.same(doc.components.securitySchemes.apiKey, {
      type: 'http',
      scheme: 'bearer',
      description: doc.components.securitySchemes.apiKey.description,
    });
    const predict = doc.paths['/project/bulk-predict'].post;
    t.same(predict.security, [{ apiKey: [] }]);
    t.same(Object.keys(predict.responses['401'].content['application/json'].examples), [
      'INF_ERR_API_KEY_MISSING',
      'INF_ERR_API_KEY_INVALID',
    ]);
    t.equal(doc.paths['/project/health'].get.security, undefined, 'health is open');
    t.equal(doc.paths['/project/info'].get.security, undefined, 'info is open');
  });

  t.test(
    'the repository routes need a key with the default routes (predict brings them); MODEL_DIR alone has nothing to load',
    async (t) => {
      const post = (path: string, headers: Record<string, string>) => fetch(`${url}/v2/repository${path}`, { method: 'POST', headers });
      for (const path of ['/index', '/models/distilbert-sst2-standin/load', '/models/distilbert-sst2-standin/unload']) {
        const none = await post(path, json);
        t.equal(none.status, 401, `${path} without a key`);
        t.equal(none.headers.get('www-authenticate'), REALM);
        t.same(await none.json(), { error: 'Not authenticated' }, `${path}: the Open Inference Protocol's {"error"}`);
        const wrong = await post(path, bearer('wrong-key'));
        t.equal(wrong.status, 401, `${path} with a wrong key`);
        t.same(await wrong.json(), { error: 'Invalid API key' });
      }
      const index = await post('/index', bearer(KEYS[0]!));
      t.equal(index.status, 200, 'the index with a key');
      t.match(await index.json(), [{ name: 'distilbert-sst2-standin', state: 'READY', reason: '' }]);
      const load = await post('/models/distilbert-sst2-standin/load', bearer(KEYS[0]!));
      t.same(
        [load.status, await load.json()],
        [404, { error: 'Model distilbert-sst2-standin not found' }],
        'no repository: no directory to load',
      );
    },
  );

  t.test('the refusal counter is exported because keys are configured', async (t) => {
    t.match(await exposition(url), /^# TYPE inf_api_key_refusals_total counter$/m);
  });

  t.test('no key in any log line, the start-up line included', async (t) => {
    const line = logRecords(service.output()).find((r) => r.msg === 'api keys');
    t.same([line?.keys, line?.from, line?.routes], [3, 'API_KEYS', ['predict']], 'the start-up line gives the count and the source');
    t.ok(
      logRecords(service.output()).some((r) => r.msg === 'request refused' && r.code === 'INF_ERR_API_KEY_INVALID'),
      'refusals are logged, by code',
    );
    assertNoKeyLogged(t, service, [...KEYS, 'wrong-key']);
  });
});

t.test('API_KEYS_FILE from a Secret volume, API_KEY_ROUTES=all, and a rotation of the Secret', async (t) => {
  const { file: keysFile, publish } = secretMount(
    t,
    'api-keys-secret-',
    `# project-api keys, one a line\n\n${FILE_KEYS[0]}\n  # the next one is the CI's\n${FILE_KEYS[1]}\r\n\n`,
  );

  const service = await startService(
    { API_KEYS_FILE: keysFile, API_KEY_ROUTES: 'all', API_KEYS_FILE_CHECK_MS: '100' },
    { waitHealthy: false },
  );
  t.teardown(() => service.stop());
  const { url } = service;
  const withKey = (key: string) => ({ authorization: `Bearer ${key}` });
  await waitFor(
    async () => (await call(url, '/project/health', withKey(FILE_KEYS[0])).catch(() => ({ status: 0 }))).status === 200,
    120_000,
    'health',
  );

  t.test('every route needs a key from the file; comments and blank lines are not keys', async (t) => {
    const paths = [
      '/project/health',
      '/project/info',
      '/project/openapi.json',
      '/project/docs',
      '/project/docs/swagger-ui.css',
      '/metrics',
      '/v2/health/ready',
      '/v2/models/distilbert-sst2-standin',
      '/info',
      '/health',
    ];
    for (const path of paths) {
      t.equal((await call(url, path, {})).status, 401, `${path} without a key`);
      t.equal((await call(url, path, withKey('wrong'))).challenge, `${REALM}, error="invalid_token"`, `${path} with a wrong key`);
      for (const key of FILE_KEYS) t.equal((await call(url, path, withKey(key))).status, 200, `${path} with a file key`);
    }
    for (const notKey of ['#', '# project-api keys, one a line', '']) {
      t.equal((await call(url, '/project/info', withKey(notKey))).status, 401, `${JSON.stringify(notKey)} is no key`);
    }
    t.equal((await postPredict(url, BODY, { headers: bearer(FILE_KEYS[1]) })).status, 200, 'bulk-predict with a file key');
    t.equal((await postPredict(url, BODY)).status, 401, 'bulk-predict without one');

    const head = await fetch(`${url}/project/health`, { method: 'HEAD' });
    t.equal(head.status, 401, 'HEAD is refused like GET');
    t.equal(head.headers.get('www-authenticate'), REALM);
    t.equal(await head.text(), '', 'with no body');

    const getWithBody = await rawExchange(service.port, 'GET /project/info HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    t.match(getWithBody.text, /^HTTP\/1\.1 401 /);
    t.ok(getWithBody.closed, 'a refused GET with a body closes the connection');

    const doc: any = await (await fetch(`${url}/project/openapi.json`, { headers: withKey(FILE_KEYS[0]) })).json();
    for (const [path, op] of [
      ['/project/bulk-predict', 'post'],
      ['/project/health', 'get'],
      ['/project/info', 'get'],
    ]) {
      t.same(doc.paths[path][op].security, [{ apiKey: [] }], `${path} declares the scheme`);
      t.ok(doc.paths[path][op].responses['401'], `${path} declares its 401`);
    }
  });

  t.test('a rotated Secret replaces the keys while the service runs; an unusable one keeps them', async (t) => {
    publish(`${FILE_KEYS[1]}\n${ROTATED_KEY}\n`);
    await waitFor(async () => (await call(url, '/project/info', withKey(ROTATED_KEY))).status === 200, 10_000, 'the rotated key');
    t.equal((await call(url, '/project/info', withKey(FILE_KEYS[0]))).status, 401, 'the removed key is refused');
    t.equal((await call(url, '/project/info', withKey(FILE_KEYS[1]))).status, 200, 'the kept key still works');
    await waitFor(() => logRecords(service.output()).some((r) => r.msg === 'api keys reloaded' && r.keys === 2), 5000, 'the reload line');

    publish('# emptied by mistake\n');
    await waitFor(() => logRecords(service.output()).some((r) => r.level === 40 && /keeping the keys/.test(r.msg)), 10_000, 'the warning');
    t.equal((await call(url, '/project/info', withKey(ROTATED_KEY))).status, 200, 'a file with no key keeps the keys in use');
    t.equal((await call(url, '/project/info', {})).status, 401, 'and does not open the routes');
  });

  t.test('no key in any log line', async (t) => {
    const line = logRecords(service.output()).find((r) => r.msg === 'api keys');
    t.same([line?.keys, line?.from], [2, keysFile]);
    assertNoKeyLogged(t, service, [...FILE_KEYS, ROTATED_KEY]);
  });
});

t.test('a key source that cannot be used stops the start with INF_ERR_CONFIG, and the message holds no key', async (t) => {
  const secret = 'not a token';
  const cases: [Record<string, string>, RegExp][] = [
    [{ API_KEYS: `${KEYS[0]},${secret}` }, /API_KEYS: item 2 is not a bearer token/],
    [{ API_KEYS_FILE: join(tmpdir(), 'no-such-api-keys-file') }, /API_KEYS_FILE: cannot read .*\(ENOENT\)/],
    [{ API_KEYS: KEYS[0], API_KEYS_FILE: '/x' }, /API_KEYS and API_KEYS_FILE are exclusive/],
  ];
  for (const [env, message] of cases) {
    const service = await startService(env, { waitHealthy: false });
    const { child } = service;
    const code = child.exitCode ?? (await new Promise((resolve) => child.once('exit', resolve)));
    t.equal(code, 1, `${Object.keys(env).join('+')}: exit 1`);
    const fatal = logRecords(service.output()).find((r) => r.level === 60);
    t.equal(fatal?.code, 'INF_ERR_CONFIG');
    t.match(fatal?.msg, message);
    t.notOk(service.output().includes(secret) || service.output().includes(KEYS[0]), 'no key in the output');
  }
});
