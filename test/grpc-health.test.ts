// grpc.health.v1.Health follows the service's lifecycle (NOT_SERVING while the workers load, SERVING once warm,
// NOT_SERVING while draining) for the server ("") and each service by name; SIGTERM lets the gRPC calls in flight
// finish while new ones are refused UNAVAILABLE, then exits 0.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { type GrpcClient, grpcClient, unary } from './grpc-client.js';
import { exposition, metric, startService, waitFor } from './helper.js';

const HEALTH = ['health.proto', 'grpc.health.v1.Health'] as const;
const OIP = ['grpc_predict_v2.proto', 'inference.GRPCInferenceService'] as const;
const OIP_NAME = 'inference.GRPCInferenceService';
const MODEL = 'distilbert-sst2-standin';

/** A Watch stream's statuses as they come, and whether it has ended. */
function watch(client: GrpcClient, service: string): { statuses: string[]; ended: Promise<unknown> } {
  const statuses: string[] = [];
  const call = client.Watch({ service });
  call.on('data', (response: { status: string }) => statuses.push(response.status));
  const ended = new Promise((resolve) => {
    call.on('error', resolve);
    call.on('end', resolve);
  });
  return { statuses, ended };
}

t.test('NOT_SERVING while the workers load, then SERVING; a Watch sees the change; predictions meanwhile UNAVAILABLE', async (t) => {
  // Three workers on two cores take a while to warm, so the starting phase is observable.
  const service = await startService({ WORKERS: '3' }, { waitHealthy: false });
  const health = grpcClient(...HEALTH, service.grpcPort);
  const oip = grpcClient(...OIP, service.grpcPort);
  t.teardown(async () => {
    health.close();
    oip.close();
    await service.stop();
  });
  const seen: string[] = [];
  let watched: ReturnType<typeof watch> | undefined;
  let early: Awaited<ReturnType<typeof unary>> | undefined;
  await waitFor(
    async () => {
      const { value } = await unary(health, 'Check', { service: '' }, { deadlineMs: 2000 });
      if (value === undefined) return false;
      seen.push(value.status);
      if (value.status === 'NOT_SERVING') {
        watched ??= watch(health, OIP_NAME);
        early ??= await unary(oip, 'ModelInfer', {
          model_name: MODEL,
          inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('early')] } }],
        });
      }
      return value.status === 'SERVING';
    },
    60_000,
    'SERVING',
  );
  t.equal(seen[0], 'NOT_SERVING', 'the first answer is NOT_SERVING');
  t.equal(seen.at(-1), 'SERVING', 'then SERVING');
  t.equal(early?.error?.code, grpc.status.UNAVAILABLE, 'a prediction while loading is UNAVAILABLE');
  t.equal(early?.error?.details, 'Model is loading');
  t.equal(early?.error?.metadata.get('retry-after')[0], '1', 'with retry-after');
  await waitFor(() => watched?.statuses.at(-1) === 'SERVING', 10_000, 'the Watch to see SERVING');
  t.same(watched?.statuses, ['NOT_SERVING', 'SERVING'], 'the Watch: the status at once, then the change');
  t.ok(
    service.output().indexOf('"msg":"grpc listening"') < service.output().indexOf('"msg":"ready"'),
    'gRPC listens before the workers are warm',
  );
});

t.test(
  'Check and Watch know the server and the services it serves, and nothing else; what the model cannot serve is NOT_SERVING',
  async (t) => {
    const service = await startService({ WORKERS: '1' });
    const health = grpcClient(...HEALTH, service.grpcPort);
    t.teardown(async () => {
      health.close();
      await service.stop();
    });
    for (const name of ['', OIP_NAME, 'tei.v1.Predict', 'tei.v1.Tokenize', 'tei.v1.Info'])
      t.same((await unary(health, 'Check', { service: name })).value, { status: 'SERVING' }, `"${name}"`);
    // As TEI's health: what the model cannot serve is NOT_SERVING however ready the server is.
    t.same((await unary(health, 'Check', { service: 'tei.v1.Embed' })).value, { status: 'NOT_SERVING' }, 'a classifier has no Embed');
    t.same(
      (await unary(health, 'Check', { service: 'tei.v1.Rerank' })).value,
      { status: 'NOT_SERVING' },
      'a two-label model is no re-ranker',
    );
    const unknown = await unary(health, 'Check', { service: 'other.Service' });
    t.equal(unknown.error?.code, grpc.status.NOT_FOUND, 'an unknown service is NOT_FOUND');
    const watched = watch(health, 'other.Service');
    await waitFor(() => watched.statuses.length > 0, 10_000, 'the Watch to answer');
    t.same(watched.statuses, ['SERVICE_UNKNOWN'], 'an unknown service is watched as SERVICE_UNKNOWN');
  },
);

t.test('SIGTERM: the calls in flight finish, health turns NOT_SERVING, new calls are UNAVAILABLE, the process exits 0', async (t) => {
  const service = await startService({
    WORKERS: '1',
    REQUEST_TIMEOUT_MS: '120000',
    MAX_QUEUE_DELAY_MS: '120000',
    SHUTDOWN_GRACE_MS: '120000',
  });
  const health = grpcClient(...HEALTH, service.grpcPort);
  const oip = grpcClient(...OIP, service.grpcPort);
  t.teardown(async () => {
    health.close();
    oip.close();
    await service.stop('SIGKILL');
  });
  const watched = watch(health, '');
  await waitFor(() => watched.statuses.length > 0, 10_000, 'the Watch to answer');
  const infer = (texts: string[]) =>
    unary(oip, 'ModelInfer', {
      model_name: MODEL,
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], contents: { bytes_contents: texts.map((x) => Buffer.from(x)) } }],
    });
  const burst = Array.from({ length: 30 }, (_, i) =>
    infer(Array.from({ length: 16 }, (_, k) => `grpc burst ${i} sentence ${k} is rather good`)),
  );
  await waitFor(async () => metric(await exposition(service.url), 'inf_queue_texts', 0) > 0, 60_000, 'texts queued');

  service.child.kill('SIGTERM');
  await waitFor(() => service.output().includes('"msg":"draining"'), 10_000, 'draining log line');
  for (const name of ['', OIP_NAME]) {
    t.same((await unary(health, 'Check', { service: name })).value, { status: 'NOT_SERVING' }, `"${name}" is NOT_SERVING while draining`);
  }
  const late = await infer(['a call after the signal']);
  t.equal(late.error?.code, grpc.status.UNAVAILABLE, 'a new call is refused UNAVAILABLE');
  t.equal(late.error?.details, 'Server is shutting down');

  const results = await Promise.all(burst);
  const answered = results.filter((r) => r.value);
  t.ok(answered.length > 0, `${answered.length} calls were in flight and answered`);
  t.same(
    results.filter((r) => r.error && r.error.code !== grpc.status.UNAVAILABLE).map((r) => r.error?.code),
    [],
    'the others were refused UNAVAILABLE, never cut off',
  );
  for (const { value } of answered) t.equal(value.outputs[1].contents.bytes_contents.length, 16);
  await watched.ended;
  t.same(watched.statuses, ['SERVING', 'NOT_SERVING'], 'the Watch saw the drain, then ended');
  // Already exiting: a second SIGTERM changes nothing, and stop() resolves the exit code whenever it came.
  t.equal(await service.stop('SIGTERM'), 0, 'exit code 0');
  t.match(service.output(), /"msg":"stopped"/);
});
