// The gRPC call pipeline (src/grpc/call.ts) over a real socket, around a test service (test/fixtures/grpc/
// pipeline.proto) whose work the test holds and releases: admission by lifecycle and API key, errors mapped to
// their status (no internals), aborts, the drain's in-flight count, and a stream's order, failure and bound.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import pino from 'pino';
import {
  clientStreamCall,
  STREAM_MAX_IN_FLIGHT,
  streamCall,
  unaryCall,
  type GrpcCallScope,
  type GrpcPipelineDeps,
} from '../../dist/src/grpc/call.js';
import { PROTO_LOADER_OPTIONS } from '../../dist/src/grpc/protos.js';
import { Errors } from '../../dist/src/errors.js';
import { InferenceErrors } from '../../dist/src/inference/errors.js';
import { Lifecycle } from '../../dist/src/lifecycle.js';
import { ApiKeyGuard } from '../../dist/src/http/api-keys.js';
import { createRequestIds } from '../../dist/src/http/request-id.js';
import { disabledMetrics } from '../../dist/src/observability/metrics.js';
import { disabledTracing } from '../../dist/src/observability/tracing.js';
import { type GrpcClient, grpcClient, unary } from '../grpc-client.js';
import { repoRoot, waitFor } from '../helper.js';

const PROTO = join(repoRoot, 'test', 'fixtures', 'grpc', 'pipeline.proto');

interface Item {
  text: string;
  delay_ms?: number;
  fail?: string;
  gated?: boolean;
}

/** The test service's work, and what the test sees of it. */
function createWork() {
  const state = { running: 0, maxRunning: 0, aborted: [] as string[], gates: new Map<string, () => void>(), gathered: [] as string[] };
  const work = async (item: Item, scope: GrpcCallScope): Promise<Item> => {
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    scope.onAbort(() => state.aborted.push(item.text));
    try {
      if (item.fail === 'THROW') throw new Error('secret internals');
      if (item.fail === 'INVALID') throw Errors.InvalidInput(`bad ${item.text}`);
      if (item.fail === 'OVERLOADED') throw InferenceErrors.overloaded(3);
      await new Promise<void>((resolve, reject) => {
        if (item.gated) state.gates.set(item.text, resolve);
        else setTimeout(resolve, item.delay_ms ?? 0);
        scope.onAbort(() => reject(InferenceErrors.timeout()));
      });
      return { text: item.text.toUpperCase() };
    } finally {
      state.running--;
    }
  };
  return { state, work };
}

async function startPipeline(t: Test, apiKeys?: ApiKeyGuard) {
  const lifecycle = new Lifecycle();
  lifecycle.state = 'ready';
  const deps: GrpcPipelineDeps = {
    config: { requestTimeoutMs: 60_000 },
    lifecycle,
    metrics: disabledMetrics,
    logger: pino({ level: 'silent' }),
    tracing: disabledTracing,
    apiKeys,
    requestIds: createRequestIds(),
  };
  const { state, work } = createWork();
  const service = (grpc.loadPackageDefinition(loadSync(PROTO, PROTO_LOADER_OPTIONS)) as any).pipeline.test.Pipeline.service;
  const server = new grpc.Server();
  server.addService(service, {
    // A work that throws before it returns a promise, as well as one whose promise rejects.
    Unary: unaryCall(deps, 'pipeline.test.Pipeline/Unary', (item: Item, scope) => {
      if (item.fail === 'SYNC') throw new Error('thrown at once');
      return work(item, scope);
    }),
    Stream: streamCall(deps, 'pipeline.test.Pipeline/Stream', work),
    Gather: clientStreamCall(deps, 'pipeline.test.Pipeline/Gather', async (items: AsyncIterable<Item>) => {
      const texts: string[] = [];
      for await (const item of items) {
        if (item.fail === 'INVALID') throw Errors.InvalidInput(`bad ${item.text}`);
        texts.push(item.text);
        state.gathered.push(item.text);
      }
      return { text: texts.join('+') };
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const client = grpcClient(PROTO, 'pipeline.test.Pipeline', port);
  t.teardown(() => {
    client.close();
    server.forceShutdown();
  });
  return { lifecycle, state, client };
}

/** One stream: writes `items`, ends its side, and resolves what came back. */
function stream(client: GrpcClient, items: Item[], metadata: Record<string, string> = {}) {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  const call = client.Stream(md);
  const answers: string[] = [];
  call.on('data', (item: Item) => answers.push(item.text));
  const done = new Promise<{ answers: string[]; error?: grpc.ServiceError }>((resolve) => {
    call.on('error', (error: grpc.ServiceError) => resolve({ answers, error }));
    call.on('end', () => resolve({ answers }));
  });
  for (const item of items) call.write(item);
  call.end();
  return done;
}

t.test('unary: the answer and the request id; a refusal by lifecycle; errors as their status, without internals', async (t) => {
  const { lifecycle, client, state } = await startPipeline(t);
  const ok = await unary(client, 'Unary', { text: 'a' }, { metadata: { 'x-request-id': 'mine-1' } });
  t.same(ok.value?.text, 'A');
  t.equal(ok.metadata?.get('x-request-id')[0], 'mine-1', "the client's request id");
  const replaced = await unary(client, 'Unary', { text: 'a' }, { metadata: { 'x-request-id': 'not usable' } });
  t.match(replaced.metadata?.get('x-request-id')[0], /^[0-9a-f-]{36}$/, 'an unusable one is replaced');

  const cases: [Item, grpc.status, string, string?][] = [
    [{ text: 'x', fail: 'INVALID' }, grpc.status.INVALID_ARGUMENT, 'bad x'],
    [{ text: 'x', fail: 'OVERLOADED' }, grpc.status.RESOURCE_EXHAUSTED, 'Server overloaded', '3'],
    [{ text: 'x', fail: 'THROW' }, grpc.status.INTERNAL, 'Internal Server Error'],
    [{ text: 'x', fail: 'SYNC' }, grpc.status.INTERNAL, 'Internal Server Error'],
  ];
  for (const [item, code, details, retryAfter] of cases) {
    const { error } = await unary(client, 'Unary', item);
    t.equal(error?.code, code, `${item.fail}: ${grpc.status[code]}`);
    t.equal(error?.details, details, `${item.fail}: no internals`);
    t.equal(error?.metadata.get('retry-after')[0], retryAfter, `${item.fail}: retry-after`);
    t.ok(error?.metadata.get('x-request-id')[0], `${item.fail}: the request id in the trailers`);
  }

  lifecycle.state = 'starting';
  const loading = await unary(client, 'Unary', { text: 'x' });
  t.match(loading.error, { code: grpc.status.UNAVAILABLE, details: 'Model is loading' }, 'refused while starting');
  lifecycle.state = 'draining';
  const draining = await unary(client, 'Unary', { text: 'x' });
  t.match(draining.error, { code: grpc.status.UNAVAILABLE, details: 'Server is shutting down' }, 'refused while draining');
  t.equal(state.running, 0, 'a refused call never ran');
  t.equal(lifecycle.requestsInFlight, 0, 'every call left the drain count');
});

t.test('unary: a client that cancels aborts the work and leaves the drain count', async (t) => {
  const { lifecycle, client, state } = await startPipeline(t);
  const call = client.Unary({ text: 'held', gated: true }, () => {});
  await waitFor(() => state.gates.has('held'), 10_000, 'the work to start');
  t.equal(lifecycle.requestsInFlight, 1, 'in flight');
  call.cancel();
  await waitFor(() => lifecycle.requestsInFlight === 0, 10_000, 'the call to leave');
  t.same(state.aborted, ['held'], 'the work heard the abort');
});

t.test('stream: answers in request order; a failed message ends it with its status after the answers before it', async (t) => {
  const { lifecycle, client, state } = await startPipeline(t);
  const ordered = await stream(client, [
    { text: 'a', delay_ms: 60 },
    { text: 'b', delay_ms: 40 },
    { text: 'c', delay_ms: 20 },
    { text: 'd' },
  ]);
  t.same(ordered, { answers: ['A', 'B', 'C', 'D'] }, 'in the order asked, though the later ones finished first');

  const failed = await stream(client, [
    { text: 'a', delay_ms: 30 },
    { text: 'b', fail: 'INVALID' },
    { text: 'c', gated: true },
  ]);
  t.same(failed.answers, ['A'], 'the answer before the failure');
  t.match(failed.error, { code: grpc.status.INVALID_ARGUMENT, details: 'bad b' });
  await waitFor(() => lifecycle.requestsInFlight === 0, 10_000, 'every message to leave');
  t.same(state.aborted, ['c'], 'the message after it was withdrawn');
});

t.test(`stream: at most ${STREAM_MAX_IN_FLIGHT} messages are worked on at once, every one answered`, async (t) => {
  const { client, state } = await startPipeline(t);
  const items = Array.from({ length: STREAM_MAX_IN_FLIGHT + 8 }, (_, i) => ({ text: `g${i}`, gated: true }));
  const done = stream(client, items);
  await waitFor(() => state.running === STREAM_MAX_IN_FLIGHT, 10_000, 'the stream to fill its bound');
  let opened = 0;
  while (opened < items.length) {
    await waitFor(() => state.gates.size > 0, 10_000, 'a held message');
    for (const [text, open] of state.gates) {
      state.gates.delete(text);
      open();
      opened++;
    }
  }
  t.same(
    (await done).answers,
    items.map((item) => item.text.toUpperCase()),
  );
  t.equal(state.maxRunning, STREAM_MAX_IN_FLIGHT, 'never more at once');
});

t.test('stream: with API keys, every message needs the key of the stream', async (t) => {
  const { client } = await startPipeline(t, new ApiKeyGuard(['key-1'], new Set(['predict'])));
  const refused = await stream(client, [{ text: 'a' }]);
  t.match(refused.error, { code: grpc.status.UNAUTHENTICATED, details: 'Not authenticated' });
  const wrong = await stream(client, [{ text: 'a' }], { authorization: 'Bearer key-2' });
  t.match(wrong.error, { code: grpc.status.UNAUTHENTICATED, details: 'Invalid API key' });
  t.same(await stream(client, [{ text: 'a' }, { text: 'b' }], { authorization: 'Bearer key-1' }), { answers: ['A', 'B'] });
});

/** One client stream (Gather): writes `items`, ends its side unless told not to; the call and its outcome. */
function gather(client: GrpcClient, items: Item[], { metadata = {} as Record<string, string>, end = true } = {}) {
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  let call: grpc.ClientWritableStream<Item> | undefined;
  const done = new Promise<{ text?: string; error?: grpc.ServiceError }>((resolve) => {
    call = client.Gather(md, (error: grpc.ServiceError | null, item: Item) => resolve(error ? { error } : { text: item.text }));
  });
  for (const item of items) call!.write(item);
  if (end) call!.end();
  return { call: call!, done };
}

t.test('client stream: one answer from every message; refused before reading; a client that cancels leaves the drain count', async (t) => {
  const { lifecycle, client, state } = await startPipeline(t, new ApiKeyGuard(['key-1'], new Set(['predict'])));
  const key = { authorization: 'Bearer key-1' };
  t.same(await gather(client, [{ text: 'a' }, { text: 'b' }, { text: 'c' }], { metadata: key }).done, { text: 'a+b+c' });
  const refused = await gather(client, [{ text: 'x' }]).done;
  t.match(refused.error, { code: grpc.status.UNAUTHENTICATED, details: 'Not authenticated' }, 'the key, before any message is read');
  const failed = await gather(client, [{ text: 'a' }, { text: 'b', fail: 'INVALID' }, { text: 'c' }], { metadata: key }).done;
  t.match(failed.error, { code: grpc.status.INVALID_ARGUMENT, details: 'bad b' }, "the work's error, as its status");
  t.ok(failed.error?.metadata.get('x-request-id')[0], 'the request id in the trailers');

  state.gathered.length = 0;
  const open = gather(client, [{ text: 'first' }], { metadata: key, end: false });
  await waitFor(() => state.gathered.length === 1, 10_000, 'the first message to be read');
  t.equal(lifecycle.requestsInFlight, 1, 'in flight while the client sends');
  open.call.cancel();
  t.equal((await open.done).error?.code, grpc.status.CANCELLED);
  await waitFor(() => lifecycle.requestsInFlight === 0, 10_000, 'the call to leave');
});
