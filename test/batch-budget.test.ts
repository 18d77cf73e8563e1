// MAX_BATCH_TOKENS is a hard limit on padded tokens (rows x longest row), from exact token counts: checked
// on what the model workers actually received, for the inputs whose length the old chars/3 estimate got
// wrong by 3x (punctuation, CJK, emoji) mixed with ordinary sentences. In process, with a fixture worker
// that reports each batch (see fixtures/recording-onnx-worker.mjs).
import t from 'tap';
import pino from 'pino';
import { BroadcastChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../dist/src/config.js';
import { startService } from '../dist/src/service.js';
import { postPredict, STANDIN_MODEL_DIR } from './helper.js';

const MAX_BATCH_TOKENS = 1024;
process.env.BATCH_RECORD_CHANNEL = `batch-record-${process.pid}`;
const received: { rows: number; longest: number; tokens: number }[] = [];
const channel = new BroadcastChannel(process.env.BATCH_RECORD_CHANNEL);
channel.onmessage = (event) => received.push((event as MessageEvent).data);

const config = loadConfig({
  MODEL_DIR: STANDIN_MODEL_DIR,
  PORT: '0',
  GRPC_PORT: '0',
  HOST: '127.0.0.1',
  WORKERS: '2',
  MAX_BATCH_TOKENS: String(MAX_BATCH_TOKENS),
  REQUEST_TIMEOUT_MS: '300000',
  MAX_QUEUE_DELAY_MS: '300000',
  CACHE_LRU_ENTRIES: '0',
});
const workerFile = fileURLToPath(new URL('./fixtures/recording-onnx-worker.mjs', import.meta.url));
const service = await startService(config, pino({ level: 'silent' }), { workerFile });
await service.ready;
t.teardown(async () => {
  await service.shutdown();
  channel.close();
});
const url = `http://127.0.0.1:${service.port}`;

t.test('no batch the workers receive has more padded tokens than MAX_BATCH_TOKENS', async (t) => {
  const punctuation = '!"#$%&()*+,-./:;<=>?@[]^_{|}~';
  const pick = (chars: string, n: number, seed: number) =>
    Array.from({ length: n }, (_, i) => [...chars][(seed * 31 + i * 7) % [...chars].length]).join('');
  const requests = [
    // About one token per character: the old estimate took these for a third of their length.
    Array.from({ length: 24 }, (_, i) => pick(punctuation, 40 + i * 25, i)),
    Array.from({ length: 24 }, (_, i) => pick('日本語映画音楽美術館物語', 30 + i * 15, i)),
    Array.from({ length: 24 }, (_, i) => pick('😀😂🥲😍🤔👍🏽👨‍👩‍👧', 20 + i * 8, i)),
    Array.from({ length: 32 }, (_, i) => `an ordinary review number ${i}, ${'rather '.repeat(i % 9)}good`),
  ];
  received.length = 0;
  const results = await Promise.all(requests.map((text) => postPredict(url, { text })));
  t.same(
    results.map((r) => r.status),
    [200, 200, 200, 200],
  );
  await new Promise((resolve) => setTimeout(resolve, 100)); // the last reports cross the channel
  const texts = received.reduce((n, b) => n + b.rows, 0);
  t.equal(texts, requests.flat().length, 'every text reached a worker once');
  const over = received.filter((b) => b.rows * b.longest > MAX_BATCH_TOKENS);
  t.same(over, [], `${received.length} batches, none over ${MAX_BATCH_TOKENS} padded tokens`);
  const largest = Math.max(...received.map((b) => b.rows * b.longest));
  t.ok(largest > MAX_BATCH_TOKENS / 2, `the budget is used, not dodged (largest batch ${largest} padded tokens)`);
  t.ok(
    received.some((b) => b.longest === 512),
    'texts past 512 tokens arrive truncated to 512',
  );
});
