// piscina worker: each thread owns one tokenizer and one ONNX Runtime session, created and warmed once when
// the thread starts (piscina imports this module at thread start and awaits it before the first task).
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { Tokenizer } from 'tokenizers';
import { createSession, modelInputs, OUTPUT_NAME, tokenTensor, type ModelInput } from './session.js';
import type { BatchFailure, BatchResult, BatchTask, ModelWorkerData, WorkerStatus } from './protocol.js';

const data = workerData as ModelWorkerData;
const status = new BroadcastChannel(data.statusChannel);
// The channel must not keep the thread alive; piscina decides the thread's lifetime.
status.unref();
const report = (message: WorkerStatus): void => status.postMessage(message);

async function load(): Promise<(task: BatchTask) => Promise<unknown>> {
  const tokenizer = await Tokenizer.fromFile(data.tokenizerPath);
  tokenizer.setTruncation(data.maxTokens);
  // Pads each batch to its longest text, not to maxTokens: attention cost grows with the padded length.
  tokenizer.setPadding({ padId: data.padId, padToken: data.padToken });
  const session = await createSession(data.modelPath, data.intraOpThreads);
  const inputs = modelInputs(data.modelPath, session.inputMetadata);

  async function runBatch(task: BatchTask): Promise<BatchResult> {
    const t0 = performance.now();
    const encodings = await tokenizer.encodeBatch([...task.texts]);
    const cols = encodings[0]?.getLength() ?? 0;
    const feeds = modelFeeds(inputs, encodings, cols);
    const t1 = performance.now();
    const outputs = await session.run(feeds);
    const t2 = performance.now();
    const logitsTensor = outputs[OUTPUT_NAME];
    return {
      // A fresh buffer of exactly this batch's logits, so transferring it hands over nothing else.
      logits: new Float32Array(logitsTensor.data as Float32Array),
      numLabels: logitsTensor.dims[1] ?? 0,
      paddedTokens: task.texts.length * cols,
      tokenizeMs: t1 - t0,
      inferenceMs: t2 - t1,
    };
  }

  // Warm-up: the first run allocates ORT's arenas and kernels; doing it here keeps it off the first request.
  const warmUp = await runBatch({ texts: ['warm up'] });
  numLabels = warmUp.numLabels;
  return async (task) => {
    let result: BatchResult;
    try {
      result = await runBatch(task);
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) } satisfies BatchFailure;
    }
    return move({ [transferableSymbol]: [result.logits.buffer], [valueSymbol]: result } as never);
  };
}

/** One tensor per input the model declares, in its declared integer type; type ids come from the tokenizer. */
function modelFeeds(inputs: readonly ModelInput[], encodings: Awaited<ReturnType<Tokenizer['encodeBatch']>>, cols: number) {
  const rowsOf = {
    ids: () => encodings.map((e) => e.getIds()),
    attentionMask: () => encodings.map((e) => e.getAttentionMask()),
    typeIds: () => encodings.map((e) => e.getTypeIds()),
  };
  return Object.fromEntries(inputs.map((input) => [input.name, tokenTensor(input.type, rowsOf[input.field](), cols)]));
}

let numLabels = 0;
let handler: (task: BatchTask) => Promise<unknown>;
try {
  handler = await load();
  report({ type: 'ready', threadId, numLabels });
} catch (err) {
  report({ type: 'failed', threadId, message: err instanceof Error ? err.message : String(err) });
  throw err;
}

export default handler;
