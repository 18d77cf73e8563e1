// The k6 scripts run under k6 (not installed here); these tests load them in Node against stub k6 modules.
import t from 'tap';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const k6Dir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'k6');

interface K6Call {
  method: string;
  url: string;
  body: unknown;
  params: Record<string, any> | undefined;
}
interface K6Log {
  requests: K6Call[];
  checks: Record<string, boolean>[];
  sleeps: number;
}
const g = globalThis as any;

// A stub package: `k6` and `k6/http` record what the script does into globalThis.__k6log.
async function makeSandbox(dir: string): Promise<string> {
  const scripts = join(dir, 'scripts');
  await cp(k6Dir, scripts, { recursive: true });
  const pkg = join(scripts, 'node_modules', 'k6');
  await mkdir(pkg, { recursive: true });
  await writeFile(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'k6',
      type: 'module',
      exports: { '.': './index.js', './http': './http.js' },
    }),
  );
  await writeFile(
    join(pkg, 'index.js'),
    [
      'export function check(value, sets) {',
      '  const out = {};',
      '  for (const [name, fn] of Object.entries(sets)) out[name] = Boolean(fn(value));',
      '  globalThis.__k6log.checks.push(out);',
      '  return Object.values(out).every(Boolean);',
      '}',
      'export function sleep() { globalThis.__k6log.sleeps++; }',
      'export function group(_name, fn) { return fn(); }',
    ].join('\n'),
  );
  await writeFile(
    join(pkg, 'http.js'),
    [
      'function record(method, url, body, params) {',
      '  globalThis.__k6log.requests.push({ method, url, body, params });',
      '  return { status: globalThis.__k6status ?? 200, body: "{}" };',
      '}',
      'export function request(method, url, body, params) { return record(method, url, body, params); }',
      'export function post(url, body, params) { return record("POST", url, body, params); }',
      'export function get(url, params) { return record("GET", url, null, params); }',
      'export default { request, post, get };',
    ].join('\n'),
  );
  return scripts;
}

let counter = 0;
/** Imports a script afresh (a new URL each time) with the given __ENV. */
async function load(scripts: string, name: string, env: Record<string, string>): Promise<any> {
  g.__ENV = env;
  g.__k6log = { requests: [], checks: [], sleeps: 0 } satisfies K6Log;
  return import(`${pathToFileURL(join(scripts, name)).href}?n=${counter++}`);
}

function headerNames(params: Record<string, any> | undefined): string[] {
  return Object.keys(params?.headers ?? {}).map((h) => h.toLowerCase());
}

const scripts = await makeSandbox(t.testdir());
const sentences = await import(pathToFileURL(join(scripts, 'sentences.js')).href);

t.test('load.js ramps to 10 VUs in 30 s, holds 7 min, ramps down over 3 min, with the p99 < 2 s threshold.', async (t) => {
  const mod = await load(scripts, 'load.js', { BASE_URL: 'http://127.0.0.1:9' });
  t.same(mod.options.stages, [
    { duration: '30s', target: 10 },
    { duration: '7m', target: 10 },
    { duration: '3m', target: 0 },
  ]);
  t.same(
    mod.options.thresholds.http_req_duration.map((s: string) => s.replace(/\s+/g, '')),
    ['p(99)<2000'],
  );
  t.notOk(mod.options.scenarios, 'the stages drive the default ramping-vus executor');
});

t.test('load.js posts JSON without a Content-Type header to BASE_URL, checks status 200 and never sleeps.', async (t) => {
  const mod = await load(scripts, 'load.js', { BASE_URL: 'http://127.0.0.1:9/' });
  for (let i = 0; i < 50; i++) mod.default();
  const log: K6Log = g.__k6log;
  t.equal(log.requests.length, 50);
  for (const req of log.requests) {
    t.equal(req.method, 'POST');
    t.equal(req.url, 'http://127.0.0.1:9/project/bulk-predict');
    t.notOk(headerNames(req.params).includes('content-type'), 'no Content-Type header');
    t.type(req.body, 'string', 'a string body, so k6 adds no form Content-Type of its own');
    const body = JSON.parse(req.body as string);
    t.same(Object.keys(body), ['text']);
    t.ok(Array.isArray(body.text) && body.text.length > 0 && body.text.every((s: unknown) => typeof s === 'string'));
  }
  t.equal(log.checks.length, 50);
  t.ok(log.checks.every((c) => c['status is 200'] === true));
  t.equal(log.sleeps, 0);
});

t.test('The check named "status is 200" fails on any other status, and BASE_URL defaults to localhost:8000.', async (t) => {
  const mod = await load(scripts, 'load.js', {});
  g.__k6status = 500;
  t.teardown(() => {
    delete g.__k6status;
  });
  mod.default();
  t.same(g.__k6log.checks, [{ 'status is 200': false }]);
  t.equal(g.__k6log.requests[0].url, 'http://localhost:8000/project/bulk-predict');
});

t.test('95% of bodies are the fixed short list and 5% a shuffled ten-sentence pool.', async (t) => {
  const mod = await load(scripts, 'load.js', {});
  t.same(JSON.parse(mod.buildRequest(() => 0.5).body), { text: sentences.FIXED });
  t.equal(sentences.FIXED.length, 3);
  t.equal(sentences.POOL.length, 10);
  let seq = 0.99;
  const rare = JSON.parse(
    mod.buildRequest(() => {
      const v = seq;
      seq = (seq * 7.3) % 1;
      return v;
    }).body,
  ).text;
  t.same([...rare].sort(), [...sentences.POOL].sort(), 'the rare body is a permutation of the pool');

  let fixed = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const text = JSON.parse(mod.buildRequest().body).text;
    if (JSON.stringify(text) === JSON.stringify(sentences.FIXED)) fixed++;
  }
  // Binomial(4000, 0.95) has a standard deviation of 0.0034; 0.03 is ~9 of them.
  t.ok(Math.abs(fixed / n - 0.95) < 0.03, `fixed share ${fixed / n}`);
});

t.test('arrival.js is an open model at RATE requests per second with error-rate and p99 thresholds.', async (t) => {
  const mod = await load(scripts, 'arrival.js', { BASE_URL: 'http://127.0.0.1:9', RATE: '250', P99_MS: '500', DURATION: '30s' });
  const sc = mod.options.scenarios.arrival;
  t.equal(sc.executor, 'constant-arrival-rate');
  t.equal(sc.rate, 250);
  t.equal(sc.timeUnit, '1s');
  t.equal(sc.duration, '30s');
  t.ok(sc.maxVUs >= sc.preAllocatedVUs && sc.preAllocatedVUs > 0);
  t.same(
    mod.options.thresholds.http_req_failed.map((s: string) => s.replace(/\s+/g, '')),
    ['rate<0.01'],
  );
  t.same(
    mod.options.thresholds.http_req_duration.map((s: string) => s.replace(/\s+/g, '')),
    ['p(99)<500'],
  );
  mod.default();
  const req: K6Call = g.__k6log.requests[0];
  t.equal(req.url, 'http://127.0.0.1:9/project/bulk-predict');
  t.notOk(headerNames(req.params).includes('content-type'));
  t.ok(Array.isArray(JSON.parse(req.body as string).text));
});

t.test('arrival.js defaults to a 2 s p99 target and refuses a RATE that is not a positive number.', async (t) => {
  const mod = await load(scripts, 'arrival.js', {});
  t.same(
    mod.options.thresholds.http_req_duration.map((s: string) => s.replace(/\s+/g, '')),
    ['p(99)<2000'],
  );
  t.ok(mod.options.scenarios.arrival.rate > 0);
  await t.rejects(load(scripts, 'arrival.js', { RATE: 'fast' }), /RATE must be a positive number/);
  await t.rejects(load(scripts, 'arrival.js', { RATE: '0' }), /RATE must be a positive number/);
});
