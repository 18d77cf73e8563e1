// The k6 scripts run under k6 (not installed here); these tests load them in Node against stub k6 modules.
import t, { type Test } from 'tap';
import { readBack } from './fixtures/proto-wire.js';
import { existsSync } from 'node:fs';
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
interface K6GrpcCall {
  op: 'load' | 'connect' | 'invoke';
  args: any[];
}
interface K6Log {
  requests: K6Call[];
  checks: Record<string, boolean>[];
  sleeps: number;
  grpc: K6GrpcCall[];
}
const g = globalThis as any;

// A stub package: `k6`, `k6/http` and `k6/net/grpc` record what the script does into globalThis.__k6log
// (`k6/net/grpc` answers with globalThis.__k6grpcAnswer(method, request) when a test sets it); `k6/encoding` is
// k6's base64.
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
      exports: { '.': './index.js', './http': './http.js', './net/grpc': './grpc.js', './encoding': './encoding.js' },
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
  await writeFile(
    join(pkg, 'grpc.js'),
    [
      'const record = (op, args) => globalThis.__k6log.grpc.push({ op, args });',
      'export const StatusOK = 0;',
      'export class Client {',
      '  load(...args) { record("load", args); }',
      '  connect(...args) { record("connect", args); }',
      '  invoke(method, request, params) {',
      '    record("invoke", [method, request, params]);',
      '    return globalThis.__k6grpcAnswer?.(method, request) ?? { status: StatusOK, message: null };',
      '  }',
      '  close() {}',
      '}',
      'export default { Client, StatusOK };',
    ].join('\n'),
  );
  await writeFile(
    join(pkg, 'encoding.js'),
    ['export function b64encode(input) { return Buffer.from(input, "utf8").toString("base64"); }', 'export default { b64encode };'].join(
      '\n',
    ),
  );
  return scripts;
}

let counter = 0;
/** Imports a script afresh (a new URL each time) with the given __ENV. */
async function load(scripts: string, name: string, env: Record<string, string>): Promise<any> {
  g.__ENV = env;
  g.__k6log = { requests: [], checks: [], sleeps: 0, grpc: [] } satisfies K6Log;
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

const MODEL_INFER = 'inference.GRPCInferenceService/ModelInfer';
const TEI_PREDICT = 'tei.v1.Predict/Predict';
const protoDir = resolve(k6Dir, '..', '..', 'schemas', 'grpc');

function invokes(log: K6Log) {
  return log.grpc.filter((c) => c.op === 'invoke').map(({ args: [method, request, params] }) => ({ method, request, params }));
}

/** A server's answer to the stub's call: OK, with one label per text. */
function answerEveryText(method: string, request: any): { status: number; message: any } {
  if (method === TEI_PREDICT) return { status: 0, message: { predictions: [{ label: 'POSITIVE', score: 0.99 }] } };
  const n = request.inputs[0].shape[0];
  // As k6 hands the message to the script: int64 fields as strings.
  return {
    status: 0,
    message: {
      outputs: [
        { name: 'scores', shape: [String(n), '2'] },
        { name: 'label', shape: [String(n)] },
      ],
    },
  };
}

/** Makes the stub k6/net/grpc answer each call with `answer(method, request)` until the test ends. */
function grpcAnswers(t: Test, answer: (method: string, request: any) => unknown): void {
  g.__k6grpcAnswer = answer;
  t.teardown(() => {
    delete g.__k6grpcAnswer;
  });
}

const base64Texts = (request: any): string[] =>
  request.inputs[0].contents.bytes_contents.map((b64: string) => Buffer.from(b64, 'base64').toString('utf8'));

t.test('grpc.js is a closed model of VUS users for DURATION, with a p99 threshold on gRPC calls and one on failed checks.', async (t) => {
  const mod = await load(scripts, 'grpc.js', { VUS: '4', DURATION: '30s', P99_MS: '500' });
  t.same(mod.options.scenarios, { grpc: { executor: 'constant-vus', vus: 4, duration: '30s' } });
  const thresholds = (metric: string) => mod.options.thresholds[metric].map((s: string) => s.replace(/\s+/g, ''));
  t.same(thresholds('grpc_req_duration'), ['p(99)<500']);
  t.same(thresholds('checks'), ['rate>0.99'], 'more than 1 % of failed checks (status, answers) fails the run');
  const defaults = await load(scripts, 'grpc.js', {});
  t.same(defaults.options.scenarios.grpc, { executor: 'constant-vus', vus: 10, duration: '1m' });
});

t.test(
  'grpc.js sends each iteration as one ModelInfer of a BYTES tensor over one plaintext connection, and checks every text is answered.',
  async (t) => {
    grpcAnswers(t, answerEveryText);
    const mod = await load(scripts, 'grpc.js', {});
    const [loaded, ...moreLoads] = g.__k6log.grpc as K6GrpcCall[];
    t.same(moreLoads, [], 'the proto is loaded once, at init');
    t.equal(loaded?.op, 'load');
    const [[importPath], file] = loaded!.args;
    t.equal(file, 'grpc_predict_v2.proto');
    t.ok(existsSync(resolve(k6Dir, importPath, file)), `${importPath}/${file}, resolved from the script, is the server's proto`);
    t.equal(resolve(k6Dir, importPath), protoDir);

    for (let i = 0; i < 40; i++) mod.default();
    const log: K6Log = g.__k6log;
    t.same(
      log.grpc.filter((c) => c.op === 'connect').map((c) => c.args),
      [['localhost:8001', { plaintext: true }]],
      'one connection, on the first iteration',
    );
    const calls = invokes(log);
    t.equal(calls.length, 40, 'one call per iteration');
    for (const { method, request, params } of calls) {
      t.equal(method, MODEL_INFER);
      t.same(
        readBack('grpc_predict_v2.proto', 'inference.GRPCInferenceService', 'ModelInfer', request),
        request,
        'every field is a ModelInferRequest field',
      );
      t.equal(request.model_name, 'distilbert-base-uncased-finetuned-sst-2-english');
      t.same(
        request.inputs.map(({ name, datatype, shape }: any) => ({ name, datatype, shape })),
        [{ name: 'text', datatype: 'BYTES', shape: [base64Texts(request).length] }],
      );
      const texts = base64Texts(request);
      t.ok(
        JSON.stringify(texts) === JSON.stringify(sentences.FIXED) ||
          JSON.stringify([...texts].sort()) === JSON.stringify([...sentences.POOL].sort()),
        'the texts of load.js: the fixed three or the shuffled pool, as UTF-8',
      );
      t.same(params, { metadata: {}, timeout: '10s' }, 'no key; the deadline sent as grpc-timeout');
    }
    t.equal(log.checks.length, 40);
    t.ok(log.checks.every((c) => c['status is OK'] === true && c['answers every text'] === true));
  },
);

t.test('A ModelInfer answer that is not OK, or lacks a label for every text, fails its check.', async (t) => {
  const mod = await load(scripts, 'grpc.js', {});
  grpcAnswers(t, () => ({ status: 8, message: null })); // RESOURCE_EXHAUSTED
  mod.default();
  grpcAnswers(t, (method, request) => {
    const answer = answerEveryText(method, request);
    answer.message.outputs.pop();
    return answer;
  });
  mod.default();
  t.same(g.__k6log.checks, [
    { 'status is OK': false, 'answers every text': false },
    { 'status is OK': true, 'answers every text': false },
  ]);
});

t.test(
  'SERVICE=tei sends one tei.v1.Predict/Predict per text, with the API key as a bearer token, over TLS when PLAINTEXT=false.',
  async (t) => {
    grpcAnswers(t, answerEveryText);
    const mod = await load(scripts, 'grpc.js', {
      SERVICE: 'tei',
      ADDR: 'api.example.com:443',
      API_KEY: 'k-123',
      PLAINTEXT: 'false',
      TIMEOUT: '2s',
    });
    const [[importPath], file] = (g.__k6log.grpc as K6GrpcCall[])[0]!.args;
    t.equal(file, 'tei.proto');
    t.ok(existsSync(resolve(k6Dir, importPath, file)), `${importPath}/${file} exists`);
    mod.default();
    const log: K6Log = g.__k6log;
    t.same(log.grpc.find((c) => c.op === 'connect')?.args, ['api.example.com:443', { plaintext: false }]);
    const calls = invokes(log);
    t.ok(calls.length === sentences.FIXED.length || calls.length === sentences.POOL.length, 'one call per text of the iteration');
    for (const { method, request, params } of calls) {
      t.equal(method, TEI_PREDICT);
      t.same(readBack('tei.proto', 'tei.v1.Predict', 'Predict', request), request, 'every field is a PredictRequest field');
      t.same(params, { metadata: { authorization: 'Bearer k-123' }, timeout: '2s' });
    }
    t.ok(
      calls.every(({ request }) => sentences.POOL.includes(request.inputs)),
      'each call sends one of the sentences',
    );
    t.ok(log.checks.every((c) => c['status is OK'] && c['answers every text']));
  },
);

t.test('grpc.js refuses an unknown SERVICE and a VUS that is not a positive number when it loads.', async (t) => {
  await t.rejects(load(scripts, 'grpc.js', { SERVICE: 'rest' }), /SERVICE must be oip or tei/);
  await t.rejects(load(scripts, 'grpc.js', { VUS: 'many' }), /VUS must be a positive number/);
});
