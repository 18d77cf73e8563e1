// Measures the process RSS behind the memory requests/limits in base/project-api-deployment.yaml.
// One ONNX Runtime session per worker thread, as the service runs them; every worker runs each batch shape
// at the same time, from short texts up to the largest batch the service admits (MAX_BATCH_TOKENS 4096 as
// 8 texts x 512 tokens).
//
//   node kustomize/sizing/measure-memory.mjs [workers=1] [model.onnx]
//
// Default model: the stand-in int8 model in ../shared/models (same architecture and size as the real one).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const defaultModel = fileURLToPath(new URL('../../../shared/models/distilbert-sst2-standin/onnx/model_quantized.onnx', import.meta.url));
const SHAPES = [
  [1, 16],
  [32, 16],
  [32, 128],
  [8, 512],
];
const mib = (bytes) => `${(bytes / 1048576).toFixed(0)} MiB`;

if (isMainThread) {
  const workers = Number(process.argv[2] ?? 1);
  const model = process.argv[3] ?? defaultModel;
  const rss = () => mib(process.memoryUsage().rss);
  const next = (w) =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  console.log(`workers=${workers} model=${model}`);
  console.log(`node alone: rss ${rss()}`);
  const pool = Array.from({ length: workers }, () => new Worker(new URL(import.meta.url), { workerData: { model } }));
  await Promise.all(pool.map(next));
  console.log(`sessions loaded: rss ${rss()}`);
  for (const [batch, tokens] of SHAPES) {
    await Promise.all(
      pool.map((w) => {
        const done = next(w);
        w.postMessage([batch, tokens]);
        return done;
      }),
    );
    console.log(`after ${batch}x${tokens} tokens: rss ${rss()}, peak ${mib(process.resourceUsage().maxRSS * 1024)}`);
  }
  await Promise.all(pool.map((w) => w.terminate()));
} else {
  const ort = require('onnxruntime-node');
  // The service's settings: one intra-op thread per session, default CPU arena.
  const session = await ort.InferenceSession.create(workerData.model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  parentPort.postMessage('loaded');
  parentPort.on('message', async ([batch, tokens]) => {
    const ids = new BigInt64Array(batch * tokens).fill(1000n);
    const mask = new BigInt64Array(batch * tokens).fill(1n);
    await session.run({
      input_ids: new ort.Tensor('int64', ids, [batch, tokens]),
      attention_mask: new ort.Tensor('int64', mask, [batch, tokens]),
    });
    parentPort.postMessage('ran');
  });
}
