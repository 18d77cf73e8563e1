// One thread of the ceiling: its own tokenizer and ONNX session, built as workers/onnx-worker.ts builds them,
// looping over batches on command. No HTTP, no queue, no cache: what the model alone can do.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Tokenizer } from 'tokenizers';
import type { Tensor } from 'onnxruntime-node';
import { createSession, int64Tensor } from '../../../workers/session.js';
import type { CeilingCommand, CeilingReply, CeilingWorkerData } from './ceiling-protocol.js';

const data = workerData as CeilingWorkerData;
const port = parentPort!;
const tokenizer = Tokenizer.fromFile(data.tokenizerPath);
tokenizer.setTruncation(data.maxTokens);
tokenizer.setPadding({ padId: 0, padToken: '[PAD]' });
const session = await createSession(data.modelPath, data.intraOpThreads);
let next = 0;

/** The next `n` texts of this thread's pool, round robin (ONNX Runtime does not care that they repeat). */
function take(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(data.texts[next++ % data.texts.length]!);
  return out;
}

/** Tokenize and pack exactly as the service's worker does. */
async function tensors(texts: string[]): Promise<{ input_ids: Tensor; attention_mask: Tensor }> {
  const encodings = await tokenizer.encodeBatch(texts);
  const cols = encodings[0]?.getLength() ?? 0;
  return {
    input_ids: int64Tensor(encodings.map((e) => e.getIds()), cols),
    attention_mask: int64Tensor(encodings.map((e) => e.getAttentionMask()), cols),
  };
}

async function run(cmd: Extract<CeilingCommand, { type: 'run' }>): Promise<CeilingReply> {
  // Without tokenization one batch is packed once and run again and again: the model's cost alone.
  const fixed = cmd.tokenize ? undefined : await tensors(take(cmd.batchSize));
  const batchMs: number[] = [];
  let sentences = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < cmd.durationMs) {
    const b0 = performance.now();
    await session.run(fixed ?? (await tensors(take(cmd.batchSize))));
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
  run(cmd).then((reply) => port.postMessage(reply), (err: unknown) => {
    port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies CeilingReply);
  });
});

// Warm-up: the first runs allocate ORT's arenas; do them before the first measured batch.
for (let i = 0; i < 3; i++) await session.run(await tensors(take(8)));
port.postMessage({ type: 'ready' } satisfies CeilingReply);
