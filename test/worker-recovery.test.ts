// A worker thread that dies is replaced; the requests it held get a JSON 500, later requests succeed.
// In process, with a fixture worker that exits on a marker text (see fixtures/exiting-onnx-worker.mjs).
import t from 'tap';
import pino from 'pino';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/src/config.js';
import { startService } from '../dist/src/service.js';
import { postPredict, STANDIN_MODEL_DIR, waitFor } from './helper.js';

const config = loadConfig({
  MODEL_DIR: STANDIN_MODEL_DIR,
  PORT: '0',
  GRPC_PORT: '0',
  HOST: '127.0.0.1',
  WORKERS: '1',
  REQUEST_TIMEOUT_MS: '120000',
  MAX_QUEUE_DELAY_MS: '120000',
});
const workerFile = fileURLToPath(new URL('./fixtures/exiting-onnx-worker.mjs', import.meta.url));
const service = await startService(config, pino({ level: 'silent' }), { workerFile });
await service.ready;
t.teardown(() => service.shutdown());
const url = `http://127.0.0.1:${service.port}`;

t.test('a worker that dies during load fails the requests it held with 500, and the pool recovers', async (t) => {
  const [original] = service.pool.threads;
  // The first request occupies the thread; the others queue behind it and share the next batch. Its batch is
  // as long as one batch may be (8 texts of ~480 tokens, within MAX_BATCH_TOKENS), so that on a loaded machine
  // the other two are still queued together when it ends.
  const first = postPredict(url, { text: Array.from({ length: 8 }, (_, i) => `${i} ${'keeps the worker busy '.repeat(120)}`) });
  await waitFor(() => service.dispatcher.busyWorkers === 1, 30_000, 'a batch running');
  const sharing = Promise.all([
    postPredict(url, { text: ['__exit__'] }),
    postPredict(url, { text: ['an innocent bystander in the same batch'] }),
  ]);
  t.equal((await first).status, 200, 'the batch before the crash was answered');
  const [killer, bystander] = await sharing;
  t.equal(killer.status, 500);
  t.same(killer.body, { detail: 'Prediction failed' });
  t.equal(bystander.status, 500, 'a request held by the dead thread gets an error too');
  t.same(bystander.body, { detail: 'Prediction failed' });

  await waitFor(() => service.pool.threads.length === 1 && service.pool.threads[0] !== original, 30_000, 'a replacement thread');
  const after = await postPredict(url, { text: ['after the crash', 'still serving'] });
  t.equal(after.status, 200, 'later requests succeed');
  t.equal(after.body.predictions.length, 2);
  t.equal(service.lifecycle.state, 'ready', 'health stays 200');
  t.equal(service.queue.length, 0);
});
