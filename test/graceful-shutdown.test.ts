// SIGTERM during a burst: every accepted request is answered, health says draining, the process exits 0.
import t from 'tap';
import { once } from 'node:events';
import { exposition, metric, postPredict, startService, waitFor } from './helper.js';
import { RawConnection } from './raw-http.js';

t.test('SIGTERM during a burst answers every accepted request and exits 0', async (t) => {
  const service = await startService({
    WORKERS: '1',
    REQUEST_TIMEOUT_MS: '120000',
    MAX_QUEUE_DELAY_MS: '120000',
    SHUTDOWN_GRACE_MS: '120000',
  });
  t.teardown(() => service.stop('SIGKILL'));

  // A keep-alive connection opened before the signal, to ask for health while draining.
  const probe = await RawConnection.open(service.port);

  const burst = Array.from({ length: 30 }, (_, i) =>
    postPredict(service.url, { text: Array.from({ length: 16 }, (_, k) => `burst ${i} sentence ${k} is rather good`) }).then(
      (res) => ({ status: res.status, error: undefined as string | undefined }),
      (err: Error & { cause?: { code?: string } }) => ({ status: 0, error: err.cause?.code ?? err.message }),
    ),
  );
  await waitFor(async () => metric(await exposition(service.url), 'inf_queue_texts', 0) > 0, 60_000, 'texts queued');

  service.child.kill('SIGTERM');
  // Give the signal a moment to land before asking (the answer is 503 for as long as requests are in flight).
  await waitFor(() => service.output().includes('"msg":"draining"'), 10_000, 'draining log line');
  probe.write('GET /project/health HTTP/1.1\r\nHost: x\r\n\r\n');
  const { text: healthResponse } = await probe.until((text) => text.includes('}'), 60_000);
  t.match(healthResponse, /^HTTP\/1.1 503/, 'health is 503 while draining');
  t.match(healthResponse, /"status":"draining"/);
  probe.destroy();

  const results = await Promise.all(burst);
  const answered = results.filter((r) => r.status !== 0);
  t.ok(answered.length > 0, `${answered.length} requests were in flight`);
  t.same(
    answered.filter((r) => r.status !== 200),
    [],
    'every answered request got 200',
  );
  t.same(
    results.filter((r) => r.status === 0 && r.error !== 'ECONNREFUSED'),
    [],
    'the others were refused at connect, never cut off',
  );
  const [code] = await once(service.child, 'exit');
  t.equal(code, 0, 'exit code 0');
  t.match(service.output(), /"msg":"stopped"/);
});

t.test('SIGINT on an idle service exits 0 at once', async (t) => {
  const service = await startService({ WORKERS: '1' });
  t.equal(await service.stop('SIGINT'), 0);
});

t.test('SIGTERM during the warm-up drains, waits for the warm-up to end, and exits 0', async (t) => {
  // Three workers on two cores take a while to warm, so the signal lands before the service is ready.
  const service = await startService({ WORKERS: '3' }, { waitHealthy: false });
  t.teardown(() => service.stop('SIGKILL'));
  await waitFor(() => service.output().includes('"msg":"listening"'), 60_000, 'listening log line');
  t.equal(await service.stop('SIGTERM'), 0, 'exit code 0');
  const output = service.output();
  t.ok(output.indexOf('"msg":"shutdown requested"') >= 0, 'the signal is logged');
  t.notMatch(output, /"msg":"ready"/, 'the service never reported ready');
  t.match(output, /"msg":"draining"[\s\S]*"msg":"stopped"/);
});
