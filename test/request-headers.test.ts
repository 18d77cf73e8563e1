// Request ids and timing headers on predictions; the request id reaches the logs.
import t from 'tap';
import { logRecords, postPredict, startService } from './helper.js';

t.test('x-request-id is echoed when the client sends one and generated otherwise, on success and error', async (t) => {
  const service = await startService({ LOG_LEVEL: 'debug' });
  t.teardown(() => service.stop());
  const echoed = await postPredict(
    service.url,
    { text: ['hi'] },
    { headers: { 'content-type': 'application/json', 'x-request-id': 'client-id-42' } },
  );
  t.equal(echoed.headers.get('x-request-id'), 'client-id-42');
  const generated = await postPredict(service.url, { text: ['hi'] });
  t.match(generated.headers.get('x-request-id'), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const invalid = await postPredict(
    service.url,
    { nope: 1 },
    { headers: { 'content-type': 'application/json', 'x-request-id': 'bad-request-7' } },
  );
  t.equal(invalid.status, 422);
  t.equal(invalid.headers.get('x-request-id'), 'bad-request-7');
  const unsafe = await postPredict(
    service.url,
    { text: ['hi'] },
    { headers: { 'content-type': 'application/json', 'x-request-id': 'x'.repeat(500) } },
  );
  t.not(unsafe.headers.get('x-request-id'), 'x'.repeat(500), 'an oversized id is replaced, not echoed');

  const lines = logRecords(service.output());
  t.ok(
    lines.some((l) => l.level === 20 && l.msg === 'request' && l.reqId === 'client-id-42' && l.status === 200),
    'debug request line with the id',
  );
  t.ok(
    lines.some((l) => l.reqId === 'bad-request-7' && l.code === 'INF_ERR_VALIDATION'),
    'the refusal line carries the id',
  );
  t.notOk(service.output().includes('"hi"'), 'no input text in the logs');
});

t.test('timing headers give queue, inference and total milliseconds, and can be switched off', async (t) => {
  const service = await startService({});
  t.teardown(() => service.stop());
  const res = await postPredict(service.url, { text: ['timing headers please'] });
  const [queue, inference, total] = ['x-queue-time', 'x-inference-time', 'x-total-time'].map((h) => Number(res.headers.get(h)));
  t.ok(
    [queue, inference, total].every((v) => Number.isFinite(v) && v >= 0),
    'three numbers',
  );
  t.ok(inference > 0, 'a miss spent time in the model');
  t.ok(total >= inference, 'total includes inference');
  const hit = await postPredict(service.url, { text: ['timing headers please'] });
  t.equal(Number(hit.headers.get('x-inference-time')), 0, 'a hit spent none');

  const off = await startService({ TIMING_HEADERS: 'false' });
  t.teardown(() => off.stop());
  const quiet = await postPredict(off.url, { text: ['no timing'] });
  t.equal(quiet.status, 200);
  t.equal(quiet.headers.get('x-total-time'), null);
  t.equal(quiet.headers.get('x-queue-time'), null);
  t.ok(quiet.headers.get('x-request-id'), 'the request id stays');
});
