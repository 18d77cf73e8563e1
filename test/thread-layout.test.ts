// The default layout follows the queue, with the real model over HTTP (in process, to read the layout): two
// single-thread sessions at start; one session on both cores once texts come one at a time; back to two under a
// burst. Scores do not depend on the layout; a thread that dies in the wide layout is replaced and serves wide.
import t from 'tap';
import pino from 'pino';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/src/config.js';
import { startService } from '../dist/src/service.js';
import { postPredict, scrapeMetrics, SST2_DEV_TSV, STANDIN_MODEL_DIR, waitFor } from './helper.js';
import { readSentences } from '../dist/bench/lib/corpus.js';

t.setTimeout(300_000);

const config = loadConfig({
  MODEL_DIR: STANDIN_MODEL_DIR,
  PORT: '0',
  GRPC_PORT: '0',
  HOST: '127.0.0.1',
  // Two threads whatever the machine, and INTRA_OP_THREADS unset: the adaptive layout.
  WORKERS: '2',
  // Every request reaches the model.
  CACHE_LRU_ENTRIES: '0',
  REQUEST_TIMEOUT_MS: '120000',
  MAX_QUEUE_DELAY_MS: '120000',
});
const workerFile = fileURLToPath(new URL('./fixtures/exiting-onnx-worker.mjs', import.meta.url));
const service = await startService(config, pino({ level: 'silent' }), { workerFile });
await service.ready;
t.teardown(() => service.shutdown());
const url = `http://127.0.0.1:${service.port}`;
const sentences = readSentences(SST2_DEV_TSV).slice(0, 24);
const NARROW = { threads: 1, spin: false };
const WIDE = { threads: 2, spin: true };

const layoutGauge = async (): Promise<string[]> => {
  const metrics = await scrapeMetrics(url);
  return ['wide', 'narrow', 'fixed'].filter((layout) => metrics.get(`inf_worker_layout{layout="${layout}"}`) === 1);
};

/** Each sentence alone, one request at a time: the body of each. */
async function oneByOne(texts: readonly string[]): Promise<string[]> {
  const bodies: string[] = [];
  for (const text of texts) {
    const res = await postPredict(url, { text: [text] });
    t.equal(res.status, 200);
    bodies.push(res.text);
  }
  return bodies;
}

let narrowBodies: string[] = [];

t.test('starts narrow: a single-thread session on each thread', async (t) => {
  t.equal(service.layout.layout, 'narrow');
  t.same(service.layout.sessions, [NARROW, NARROW]);
  t.same(await layoutGauge(), ['narrow']);
  narrowBodies = await oneByOne(sentences);
});

t.test('texts one at a time: wide, one session on both cores, the other thread holding none', async (t) => {
  const narrowCost = service.costModel.cost(1, 32);
  const deadline = Date.now() + 60_000;
  while (!(service.layout.layout === 'wide' && service.layout.sessions[1] === null) && Date.now() < deadline) {
    t.equal((await postPredict(url, { text: [`one at a time ${Date.now()}`] })).status, 200, 'answered during the change');
  }
  t.equal(service.layout.layout, 'wide');
  await waitFor(() => service.layout.sessions[1] === null, 30_000, 'thread 1 released its session');
  t.same(service.layout.sessions, [WIDE, null]);
  t.same(await layoutGauge(), ['wide']);
  t.not(service.costModel.cost(1, 32), narrowCost, "the cost model was fitted to the wide session's own runs");
  t.same(await oneByOne(sentences), narrowBodies, 'every score is the same as on a single-thread session, to the byte');
});

t.test('a burst: narrow again, and every request answered', async (t) => {
  const burst = async () =>
    Promise.all(
      Array.from({ length: 16 }, (_, i) => postPredict(url, { text: sentences.slice(i, i + 8).map((s) => `${s} ${Date.now()}`) })),
    );
  const deadline = Date.now() + 60_000;
  while (!(service.layout.layout === 'narrow' && service.layout.concurrency === 2) && Date.now() < deadline) {
    for (const res of await burst()) t.equal(res.status, 200);
  }
  t.same(service.layout.sessions, [NARROW, NARROW]);
  t.equal(service.layout.concurrency, 2);
  t.same(await layoutGauge(), ['narrow']);
  t.same(await oneByOne(sentences.slice(0, 4)), narrowBodies.slice(0, 4), 'the same scores again');
});

t.test('a thread that dies in the wide layout is replaced, and serves wide', async (t) => {
  const deadline = Date.now() + 60_000;
  while (service.layout.layout !== 'wide' && Date.now() < deadline) await postPredict(url, { text: [`again ${Date.now()}`] });
  await waitFor(() => service.layout.sessions[1] === null, 30_000, 'thread 1 released its session');
  const [original] = service.pool.threads;
  const killer = await postPredict(url, { text: ['__exit__'] });
  t.equal(killer.status, 500);
  t.same(killer.body, { detail: 'Prediction failed' });
  await waitFor(() => service.pool.threads.length === 2 && service.pool.threads[0] !== original, 30_000, 'a replacement thread');
  t.same(await oneByOne(sentences.slice(0, 4)), narrowBodies.slice(0, 4), 'the replacement answers, with the same scores');
  t.equal(service.layout.layout, 'wide');
  t.equal(service.lifecycle.state, 'ready', 'health stays 200');
});
