// One thread of the ceiling: its own tokenizer and ONNX session, built as the service's tokenizer threads and
// workers/onnx-worker.ts build them, looping over batches on command. No HTTP, no queue, no cache: what the
// model alone can do.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { Tensor } from 'onnxruntime-node';
import { createSession, RUN_OPTIONS } from '../../../workers/session.js';
import { ExactTokenizer } from '../../../workers/exact-tokenizer.js';
import { buildModelInputs } from '../../../workers/model-inputs.js';
import { packBatch } from '../../../workers/protocol.js';
import type { CeilingCommand, CeilingReply, CeilingWorkerData } from './ceiling-protocol.js';

const data = workerData as CeilingWorkerData;
const port = parentPort!;
const tokenizer = await ExactTokenizer.fromFile(data.tokenizerPath, data.maxTokens);
const session = await createSession(data.modelPath, data.intraOpThreads, undefined, data.spin === true);
let next = 0;

/** The next `n` texts of this thread's pool, round robin (ONNX Runtime does not care that they repeat). */
function take(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(data.texts[next++ % data.texts.length]!);
  return out;
}

/** Tokenize, pack and pad exactly as the service's tokenizer threads and model workers do. */
async function tensors(texts: string[]): Promise<Record<string, Tensor>> {
  return buildModelInputs(packBatch(await Promise.all(texts.map((text) => tokenizer.encode(text))))).feeds;
}

async function run(cmd: Extract<CeilingCommand, { type: 'run' }>): Promise<CeilingReply> {
  // Without tokenization batches are packed once and run in turn: the model's cost alone.
  const packed: Record<string, Tensor>[] = [];
  if (!cmd.tokenize) for (let i = 0; i < (cmd.distinct ?? 1); i++) packed.push(await tensors(take(cmd.batchSize)));
  const batchMs: number[] = [];
  let sentences = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < cmd.durationMs) {
    const b0 = performance.now();
    await session.run(cmd.tokenize ? await tensors(take(cmd.batchSize)) : packed[batchMs.length % packed.length]!, RUN_OPTIONS);
    batchMs.push(performance.now() - b0);
    sentences += cmd.batchSize;
  }
  return { type: 'done', sentences, batches: batchMs.length, elapsedMs: performance.now() - t0, batchMs };
}

port.on('message', (cmd: CeilingCommand) => {
  if (cmd.type === 'exit') {
    port.close();
    return;
  }
  run(cmd).then(
    (reply) => port.postMessage(reply),
    (err: unknown) => {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies CeilingReply);
    },
  );
});

// Warm-up: the first runs allocate ORT's arenas; do them before the first measured batch.
for (let i = 0; i < 3; i++) await session.run(await tensors(take(8)), RUN_OPTIONS);
port.postMessage({ type: 'ready' } satisfies CeilingReply);
