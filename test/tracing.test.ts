// OpenTelemetry tracing end to end: a real OTLP/HTTP receiver (node:http, decoding the exporter's JSON), the
// real service and a real redis-server. Spans are batched in the service, so each case stops the service
// (SIGTERM), whose shutdown flushes them, and then reads what the receiver got.
import t from 'tap';
import { postPredict, startRedis, startService, waitFor } from './helper.js';
import { type ExportedSpan, startReceiver } from './otlp-receiver.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const json = { 'content-type': 'application/json' };

t.test('spans of a traced service: parentage from traceparent, HTTP attributes, cache, batch and Redis children', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const service = await startService({ REDIS_URL: redis.url, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'traced-test' });
  t.teardown(() => service.stop());

  const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
  const first = await postPredict(
    service.url,
    { text: ['tracing one', 'tracing two', 'tracing one'] },
    { headers: { ...json, traceparent, tracestate: 'vendor=x', 'x-request-id': 'traced-1' } },
  );
  t.equal(first.status, 200);
  t.equal(first.headers.get('x-cache'), 'miss');
  const answered = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(first.headers.get('traceparent') ?? '');
  t.ok(answered, `the answer carries a sampled traceparent (${first.headers.get('traceparent')})`);
  t.equal(answered?.[1], TRACE_ID, "in the client's trace");
  t.not(answered?.[2], CLIENT_SPAN, 'naming the service span, not the client one');

  // After the first request's Redis write: one text cached, one new; then the same body again is a whole hit,
  // and the third time the response memo answers it.
  await new Promise((r) => setTimeout(r, 300));
  const untraced = await postPredict(
    service.url,
    { text: ['tracing one', 'tracing three'] },
    { headers: { ...json, 'x-request-id': 'traced-2' } },
  );
  t.equal(untraced.headers.get('x-cache'), 'partial');
  const newTrace = untraced.headers.get('traceparent')?.split('-')[1];
  t.ok(newTrace && newTrace !== TRACE_ID, 'a request without traceparent starts its own trace');
  for (const id of ['traced-3', 'traced-4']) {
    const r = await postPredict(service.url, { text: ['tracing one', 'tracing three'] }, { headers: { ...json, 'x-request-id': id } });
    t.equal(r.headers.get('x-cache'), 'hit');
  }
  const invalid = await postPredict(service.url, { nope: 1 }, { headers: { ...json, traceparent, 'x-request-id': 'traced-bad' } });
  t.equal(invalid.status, 422);
  t.match(invalid.headers.get('traceparent'), new RegExp(`^00-${TRACE_ID}-`), 'an error answer carries it too');
  const garbled = await postPredict(service.url, { text: ['tracing one'] }, { headers: { ...json, traceparent: 'not-a-traceparent' } });
  t.equal(garbled.status, 200, 'an invalid traceparent is ignored, not refused');
  const hf = await postPredict(
    service.url,
    { inputs: 'tracing one' },
    { path: '/', headers: { ...json, traceparent, 'x-request-id': 'traced-hf' } },
  );
  t.equal(hf.status, 200, 'the HF route is traced too');

  t.equal(await service.stop(), 0, 'graceful exit');
  await waitFor(() => receiver.spans.filter((s) => s.kind === 2).length >= 7, 5_000, 'the seven request spans');
  const spans = receiver.spans;
  const serverSpan = (requestId: string) => {
    const found = spans.filter((s) => s.kind === 2 && (s.attributes['http.response.header.x-request-id'] as string[])?.[0] === requestId);
    t.equal(found.length, 1, `one SERVER span for ${requestId}`);
    return found[0];
  };
  const childrenOf = (parent: ExportedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

  const root = serverSpan('traced-1');
  t.equal(root.name, 'POST /project/bulk-predict');
  t.equal(root.traceId, TRACE_ID);
  t.equal(root.parentSpanId, CLIENT_SPAN, "the request span is the client span's child");
  t.equal(root.spanId, answered?.[2], "the answer's traceparent names it");
  t.match(root.attributes, {
    'http.request.method': 'POST',
    'http.route': '/project/bulk-predict',
    'http.response.status_code': 200,
    'url.path': '/project/bulk-predict',
  });
  t.equal(root.resource['service.name'], 'traced-test');
  const children = childrenOf(root);
  t.same(children.map((s) => s.name).sort(), ['cache.lookup', 'cache.write', 'model.run', 'queue.wait', 'tokenize'], 'one child per step');
  const child = (name: string) => children.find((s) => s.name === name)!;
  t.match(child('cache.lookup').attributes, { 'inference.cache.hits': 0, 'inference.cache.misses': 2 }, 'two distinct texts, both new');
  t.match(child('tokenize').attributes, { 'inference.texts': 2 });
  t.match(child('queue.wait').attributes, { 'inference.texts': 2, 'inference.batches': 1 });
  const run = child('model.run').attributes;
  t.equal(run['inference.batch.size'], 2, 'both texts in one batch');
  t.ok(
    (run['inference.batch.padded_tokens'] as number) >= 2 * 4,
    `padded tokens: rows × longest (${run['inference.batch.padded_tokens']})`,
  );
  t.equal((run['inference.batch.padded_tokens'] as number) % 2, 0, 'a multiple of the rows');
  t.ok((run['inference.model_ms'] as number) > 0, 'the model time');
  t.match(child('cache.write').attributes, { 'inference.texts': 2 });
  t.not(child('cache.write').status.code, 2, 'the Redis write landed');
  t.equal(new Set(spans.filter((s) => s.traceId === TRACE_ID).map((s) => s.traceId)).size, 1);

  const partial = serverSpan('traced-2');
  t.equal(partial.parentSpanId, '', 'without traceparent the request span is a root');
  t.equal(partial.traceId, newTrace);
  const partialLookup = childrenOf(partial).find((s) => s.name === 'cache.lookup');
  t.match(partialLookup?.attributes, { 'inference.cache.hits': 1, 'inference.cache.misses': 1 });
  t.same(
    childrenOf(serverSpan('traced-3')).map((s) => s.name),
    ['cache.lookup'],
    'a whole hit only looks up',
  );
  t.match(childrenOf(serverSpan('traced-3'))[0].attributes, { 'inference.cache.hits': 2, 'inference.cache.misses': 0 });
  const memo = serverSpan('traced-4');
  t.match(memo.attributes, { 'inference.response_memo': true, 'http.response.status_code': 200 });
  t.same(childrenOf(memo), [], 'the memo answers without lookups');

  const bad = serverSpan('traced-bad');
  t.match(bad.attributes, { 'http.response.status_code': 422, 'error.type': 'INF_ERR_VALIDATION' });
  t.equal(bad.parentSpanId, CLIENT_SPAN);
  t.not(bad.status.code, 2, "a 4xx is the client's error: the SERVER span's status stays unset");
  const hfSpan = serverSpan('traced-hf');
  t.match(hfSpan, { name: 'POST /', traceId: TRACE_ID, parentSpanId: CLIENT_SPAN }, 'every prediction family gets its request span');
  t.same(
    childrenOf(hfSpan).map((s) => s.name),
    ['cache.lookup'],
    'and its steps',
  );
  const fresh = spans.find((s) => s.kind === 2 && s.parentSpanId === '' && s.traceId !== newTrace && s.traceId !== TRACE_ID);
  t.ok(fresh, 'the garbled traceparent request got a trace of its own');
});

// Two services at once, as they are independent: start-up dominates on a shared machine.
t.test('a 5xx sets the error status; OTEL_TRACES_EXPORTER=none exports nothing and sends no traceparent', async (t) => {
  const [receiver, unused] = await Promise.all([startReceiver(), startReceiver()]);
  t.teardown(() => Promise.all([receiver.close(), unused.close()]));
  const [failing, off] = await Promise.all([
    // Nothing finishes within REQUEST_TIMEOUT_MS=1: the answer is 504.
    startService({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      REQUEST_TIMEOUT_MS: '1',
    }),
    startService({ OTEL_EXPORTER_OTLP_ENDPOINT: unused.url, OTEL_TRACES_EXPORTER: 'none' }),
  ]);
  t.teardown(() => Promise.all([failing.stop(), off.stop()]));

  const res = await postPredict(failing.url, { text: ['a text that cannot finish in one millisecond, '.repeat(20)] });
  t.equal(res.status, 504);
  const quiet = await postPredict(
    off.url,
    { text: ['not traced'] },
    { headers: { ...json, traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` } },
  );
  t.equal(quiet.status, 200);
  t.equal(quiet.headers.get('traceparent'), null, 'no traceparent when tracing is off');
  t.same(await Promise.all([failing.stop(), off.stop()]), [0, 0], 'graceful exits');

  await waitFor(() => receiver.spans.some((s) => s.kind === 2), 5_000, 'the request span');
  const span = receiver.spans.find((s) => s.kind === 2)!;
  t.match(span.attributes, { 'http.response.status_code': 504, 'error.type': 'INF_ERR_TIMEOUT' });
  t.equal(span.status.code, 2, 'ERROR');
  t.equal(unused.requests, 0, 'tracing off: the receiver got no export request');
});
