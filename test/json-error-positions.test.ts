// A body that is not JSON gets FastAPI's 422 json_invalid: the position and message that Python's json module
// gives for it (the table beside this test was written by Python, see test/fixtures/json-invalid-positions.py).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postPredict, repoRoot, startService } from './helper.js';

interface Case {
  body: string;
  pos: number;
  msg: string;
}
const table = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'json-invalid-positions.json'), 'utf8')) as {
  python: string;
  cases: Case[];
};

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());

const expected = (pos: number, error: string) => ({
  detail: [{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error } }],
});

t.test(`${table.cases.length} malformed bodies get the position and message of Python ${table.python}'s json module`, async (t) => {
  t.ok(table.cases.length >= 10);
  for (const { body, pos, msg } of table.cases) {
    const res = await postPredict(service.url, body, { raw: true });
    t.equal(res.status, 422, JSON.stringify(body));
    t.same(res.body, expected(pos, msg), JSON.stringify(body));
  }
});

t.test('the issue\'s example: {"text": [ is "Expecting value" at 10', async (t) => {
  const res = await postPredict(service.url, '{"text": [', { raw: true });
  t.same(res.body, expected(10, 'Expecting value'));
});

t.test('the error does not repeat the submitted text', async (t) => {
  const text = 'a secret sentence '.repeat(2000);
  const res = await postPredict(service.url, `{"text": ["${text}", oops]}`, { raw: true });
  t.equal(res.status, 422);
  t.same(res.body, expected(text.length + 14, 'Expecting value'));
  t.notMatch(res.text, /secret/, 'no part of the body is echoed');
});

t.test('positions count characters, not UTF-16 units or bytes', async (t) => {
  const res = await postPredict(service.url, '{"text": ["😀😀😀"] x}', { raw: true });
  t.same(res.body, expected(17, "Expecting ',' delimiter"));
});

t.test('a broken body nested a hundred thousand deep is answered, at its end', async (t) => {
  const res = await postPredict(service.url, '{"text": ' + '['.repeat(100_000), { raw: true });
  t.same(res.body, expected(100_009, 'Expecting value'));
  const health = await fetch(`${service.url}/project/health`);
  t.equal(health.status, 200, 'the service is still up');
});

t.test('an empty body is "missing"; whitespace is a JSON error, as in FastAPI', async (t) => {
  t.match((await postPredict(service.url, '', { raw: true })).body, { detail: [{ type: 'missing', loc: ['body'] }] });
  t.same((await postPredict(service.url, ' \n', { raw: true })).body, expected(2, 'Expecting value'));
});
