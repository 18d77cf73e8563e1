// OpenTelemetry over gRPC: a call's SERVER span is the child of its `traceparent` metadata, named and attributed by
// the RPC conventions, with the same step children as an HTTP prediction; the answer names it; a client's error
// leaves the span's status unset; the health methods are not traced.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { grpcClient, unary } from './grpc-client.js';
import { startService, waitFor } from './helper.js';
import { startReceiver } from './otlp-receiver.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const METHOD = 'inference.GRPCInferenceService/ModelInfer';

t.test('a traced ModelInfer: its span, its steps and its answer; an error; untraced health methods', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const service = await startService({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  const client = grpcClient('grpc_predict_v2.proto', 'inference.GRPCInferenceService', service.grpcPort);
  t.teardown(async () => {
    client.close();
    await service.stop();
  });
  const traceparent = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;
  const input = (texts: string[]) => ({
    name: 'text',
    datatype: 'BYTES',
    shape: [texts.length],
    contents: { bytes_contents: texts.map((text) => Buffer.from(text)) },
  });
  const answered = await unary(
    client,
    'ModelInfer',
    { model_name: 'distilbert-sst2-standin', inputs: [input(['grpc traced one', 'grpc traced two'])] },
    { metadata: { traceparent, 'x-request-id': 'grpc-traced-1' } },
  );
  t.ok(answered.value, 'answered');
  const named = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(answered.metadata?.get('traceparent')[0]));
  t.equal(named?.[1], TRACE_ID, "the answer's traceparent is in the client's trace");
  const failed = await unary(
    client,
    'ModelInfer',
    { model_name: 'other', inputs: [input(['x'])] },
    { metadata: { traceparent, 'x-request-id': 'grpc-traced-2' } },
  );
  t.equal(failed.error?.code, grpc.status.NOT_FOUND);
  t.ok((await unary(client, 'ServerLive', {}, { metadata: { traceparent } })).value, 'a health method');

  t.equal(await service.stop(), 0, 'graceful exit, spans flushed');
  await waitFor(() => receiver.spans.filter((s) => s.kind === 2).length >= 2, 5_000, 'the two call spans');
  const serverSpans = receiver.spans.filter((s) => s.kind === 2);
  t.same(
    serverSpans.map((s) => s.name),
    [METHOD, METHOD],
    'one SERVER span per ModelInfer, none for ServerLive',
  );
  const span = (requestId: string) =>
    serverSpans.find((s) => (s.attributes['rpc.grpc.response.metadata.x-request-id'] as string[])?.[0] === requestId)!;
  const root = span('grpc-traced-1');
  t.match(root, { traceId: TRACE_ID, parentSpanId: CLIENT_SPAN, spanId: named?.[2] }, "the client span's child, named in the answer");
  t.match(root.attributes, {
    'rpc.system': 'grpc',
    'rpc.service': 'inference.GRPCInferenceService',
    'rpc.method': 'ModelInfer',
    'rpc.grpc.status_code': 0,
  });
  t.same(
    receiver.spans
      .filter((s) => s.parentSpanId === root.spanId)
      .map((s) => s.name)
      .sort(),
    ['cache.lookup', 'model.run', 'queue.wait', 'tokenize'],
    "the prediction's steps, as over HTTP",
  );
  const error = span('grpc-traced-2');
  t.match(error.attributes, { 'rpc.grpc.status_code': grpc.status.NOT_FOUND, 'error.type': 'INF_ERR_MODEL_NOT_FOUND' });
  t.not(error.status.code, 2, "NOT_FOUND is the client's error: the SERVER span's status stays unset");
});
