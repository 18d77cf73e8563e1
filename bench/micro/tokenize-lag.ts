// Issue 10: where should exact tokenization run? Both candidates tokenize with ExactTokenizer:
//   libuv   - on the main thread's event loop through the `tokenizers` async API (libuv's thread pool);
//   threads - in dedicated worker_threads, texts posted in, token ids transferred back.
// For each, a closed loop of requests (N concurrent, T texts each) runs for D seconds while the main
// thread's event-loop delay and utilization are recorded: what tokenization costs the thread that also
// serves HTTP. Run on an otherwise idle service-sized machine; the numbers are ratios from one run.
//
//   node dist/bench/micro/tokenize-lag.js [--duration 5] [--concurrency 16] [--threads 2]
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { readSentences, uniqueTexts } from '../lib/corpus.js';
import { SST2_DEV_TSV, STANDIN_MODEL_DIR } from '../lib/harness.js';
import { ExactTokenizer } from '../../workers/exact-tokenizer.js';
import { hostileTextsForBench } from './lib/texts.js';

const tokenizerPath = join(STANDIN_MODEL_DIR, 'tokenizer.json');
const MAX_TOKENS = 512;

type Encode = (texts: string[]) => Promise<Int32Array[]>;

async function libuvEncoder(): Promise<{ encode: Encode; close(): Promise<void> }> {
  const tokenizer = await ExactTokenizer.fromFile(tokenizerPath, MAX_TOKENS);
  return { encode: (texts) => Promise.all(texts.map((t) => tokenizer.encode(t))), close: async () => {} };
}

async function threadEncoder(threads: number): Promise<{ encode: Encode; close(): Promise<void> }> {
  const file = new URL('./lib/tokenize-worker.js', import.meta.url);
  const workers = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<Worker>((resolve, reject) => {
          const w = new Worker(file, { workerData: { tokenizerPath, maxTokens: MAX_TOKENS } });
          w.once('message', () => resolve(w));
          w.once('error', reject);
        }),
    ),
  );
  const waiting = new Map<number, (ids: Int32Array[]) => void>();
  for (const w of workers)
    w.on('message', ({ id, ids }: { id: number; ids: Int32Array[] }) => {
      waiting.get(id)!(ids);
      waiting.delete(id);
    });
  let next = 0;
  return {
    encode: (texts) =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        workers[id % workers.length]!.postMessage({ id, texts });
      }),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

interface Result {
  mode: string;
  load: string;
  textsPerS: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  elu: number;
  mainUsPerText: number;
}

async function measure(
  mode: string,
  load: string,
  encode: Encode,
  makeRequest: () => string[],
  concurrency: number,
  durationS: number,
): Promise<Result> {
  // One second of warm-up, then the measured window.
  const run = async (seconds: number): Promise<number> => {
    const end = performance.now() + seconds * 1000;
    let texts = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const request = makeRequest();
          await encode(request);
          texts += request.length;
        }
      }),
    );
    return texts;
  };
  await run(1);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const texts = await run(durationS);
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  lag.disable();
  const ms = (ns: number): number => ns / 1e6;
  return {
    mode,
    load,
    textsPerS: texts / seconds,
    lagP50: ms(lag.percentile(50)),
    lagP99: ms(lag.percentile(99)),
    lagMax: ms(lag.max),
    elu: elu.utilization,
    mainUsPerText: (elu.active * 1000) / texts,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, concurrency: { type: 'string' }, threads: { type: 'string' } } });
  const durationS = Number(values.duration ?? 5);
  const concurrency = Number(values.concurrency ?? 16);
  const threads = Number(values.threads ?? 2);
  const sentence = uniqueTexts(readSentences(SST2_DEV_TSV), `lag-${Date.now()}`);
  // Generated before measuring (building them costs more than tokenizing them), made unique by a prefix.
  const generate = hostileTextsForBench(7);
  const hostilePool = Array.from({ length: 64 }, () => generate(20_000));
  let n = 0;
  const hostile = (): string => `${n++} ${hostilePool[n % hostilePool.length]}`;
  const loads: [string, () => string[]][] = [
    ['32 SST-2 sentences/request', () => Array.from({ length: 32 }, sentence)],
    ['4 hostile 20k-char texts/request', () => Array.from({ length: 4 }, hostile)],
  ];
  console.log(
    `tokenize-lag: ${concurrency} concurrent requests, ${durationS} s each, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}, ${threads} dedicated threads; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const results: Result[] = [];
  for (const [name, make] of loads) {
    for (const mode of ['libuv', 'threads']) {
      const encoder = mode === 'libuv' ? await libuvEncoder() : await threadEncoder(threads);
      results.push(await measure(mode, name, encoder.encode, make, concurrency, durationS));
      await encoder.close();
      const r = results.at(-1)!;
      console.log(
        `${r.load} | ${r.mode} | ${r.textsPerS.toFixed(0)} texts/s | event-loop delay p50 ${r.lagP50.toFixed(2)} p99 ${r.lagP99.toFixed(2)} max ${r.lagMax.toFixed(1)} ms | main thread busy ${(r.elu * 100).toFixed(0)} % = ${r.mainUsPerText.toFixed(1)} µs/text`,
      );
    }
  }
  console.log(
    `load at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

await main();
