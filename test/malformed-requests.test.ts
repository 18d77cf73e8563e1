// A corpus of malformed requests: each gets a 4xx JSON error, and the server keeps serving.
import t from 'tap';
import { postPredict, startService } from './helper.js';
import { exchange, hasWholeResponse, responses } from './raw-http.js';

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());

/** Sends raw bytes on a fresh connection; resolves the status and (UTF-8) body of the first response. */
async function raw(bytes: Buffer | string): Promise<{ status: number; body: string }> {
  const { text } = await exchange(service.port, [bytes], 20_000, hasWholeResponse);
  if (!hasWholeResponse(text)) throw new Error(`no answer: ${JSON.stringify(text)}`);
  const first = responses(text)[0]!;
  return { status: first.status, body: Buffer.from(first.body, 'latin1').toString('utf8') };
}

const post = (body: Buffer | string, headers = 'Content-Type: application/json\r\n') => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([
    Buffer.from(`POST /project/bulk-predict HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${bytes.length}\r\n\r\n`),
    bytes,
  ]);
};

const deep = (n: number) => '{"text":' + '['.repeat(n) + ']'.repeat(n) + '}';

const corpus: [string, Buffer | string, number][] = [
  ['truncated JSON', post('{"text": ["a", "b"'), 422],
  ['truncated string', post('{"text": ["abc'), 422],
  ['trailing comma', post('{"text": ["a",]}'), 422],
  ['single quotes', post("{'text': ['a']}"), 422],
  ['bare word', post('text'), 422],
  ['JSON null', post('null'), 422],
  ['JSON number', post('42'), 422],
  ['JSON string', post('"I love you"'), 422],
  ['JSON list of strings', post('["I love you"]'), 422],
  ['JSON true', post('true'), 422],
  ['text null', post('{"text": null}'), 422],
  ['text number', post('{"text": 5}'), 422],
  ['text string', post('{"text": "I love you"}'), 422],
  ['text object', post('{"text": {"0": "a"}}'), 422],
  ['items numbers', post('{"text": [1, 2, 3]}'), 422],
  ['items objects', post('{"text": [{"t": "a"}]}'), 422],
  ['items nested lists', post('{"text": [["a"]]}'), 422],
  ['items booleans', post('{"text": [true]}'), 422],
  ['mixed items', post('{"text": ["a", null, 2]}'), 422],
  ['deep nesting in text', post(deep(100_000)), 422],
  ['deep nesting of objects', post('{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000)), 422],
  ['10,000-element list', post(JSON.stringify({ text: Array.from({ length: 10_000 }, () => 'a') })), 422],
  ['10,000 numbers', post(JSON.stringify({ text: Array.from({ length: 10_000 }, (_, i) => i) })), 422],
  ['invalid UTF-8', post(Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d, 0x7d])), 400],
  ['overlong UTF-8', post(Buffer.concat([Buffer.from('{"text":["'), Buffer.from([0xc0, 0xaf]), Buffer.from('"]}')])), 400],
  ['raw NUL bytes outside strings', post(Buffer.from('{"text":\u0000["a"]}')), 422],
  ['raw NUL inside a string', post(Buffer.from('{"text":["a\u0000b"]}')), 422],
  ['empty body', post(''), 422],
  ['whitespace body', post('   \n  '), 422],
  ['form encoded', post('text=a&text=b', 'Content-Type: application/x-www-form-urlencoded\r\n'), 415],
  ['XML', post('<text>a</text>', 'Content-Type: application/xml\r\n'), 415],
  [
    'huge declared body',
    `POST /project/bulk-predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{`,
    413,
  ],
  ['huge streamed body', post(JSON.stringify({ text: ['x'.repeat(2 * 1024 * 1024)] })), 413],
  ['GET on predict', 'GET /project/bulk-predict HTTP/1.1\r\nHost: x\r\n\r\n', 405],
  ['PUT on predict', post('{"text":["a"]}').toString().replace('POST', 'PUT'), 405],
  ['DELETE on predict', 'DELETE /project/bulk-predict HTTP/1.1\r\nHost: x\r\n\r\n', 405],
  ['PATCH on predict', post('{"text":["a"]}').toString().replace('POST', 'PATCH'), 405],
  ['OPTIONS on predict', 'OPTIONS /project/bulk-predict HTTP/1.1\r\nHost: x\r\n\r\n', 405],
  ['POST on health', post('{}').toString().replace('/project/bulk-predict', '/project/health'), 405],
  ['unknown path', 'GET /project/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', 404],
  ['predict without base path', post('{"text":["a"]}').toString().replace('/project/bulk-predict', '/bulk-predict'), 404],
];

t.test(`every one of ${corpus.length} malformed requests gets a 4xx JSON error`, async (t) => {
  t.ok(corpus.length >= 30);
  for (const [name, bytes, status] of corpus) {
    const res = await raw(bytes);
    t.equal(res.status, status, name);
    let body: unknown;
    t.doesNotThrow(() => (body = JSON.parse(res.body)), `${name}: JSON body`);
    t.ok(body && typeof body === 'object' && 'detail' in body, `${name}: has detail`);
  }
});

t.test('a 422 for invalid items lists each bad item', async (t) => {
  const res = await raw(post('{"text": ["a", null, 2]}'));
  const detail = JSON.parse(res.body).detail;
  t.same(
    detail.map((d: { loc: unknown }) => d.loc),
    [
      ['body', 'text', 1],
      ['body', 'text', 2],
    ],
  );
});

t.test('after the corpus the server is healthy and answers correctly', async (t) => {
  const health = await fetch(`${service.url}/project/health`);
  t.equal(health.status, 200);
  const res = await postPredict(service.url, { text: ['I love you.', 'a\u0000b', '\ud83d'] });
  t.equal(res.status, 200, 'NUL characters and lone surrogates in strings are text, not errors');
  t.equal(res.body.predictions.length, 3);
  t.equal(service.child.exitCode, null, 'the process is alive');
});
