// A dedicated tokenization thread for bench/micro/tokenize-lag.ts: texts in, token ids out (transferred).
import { parentPort, workerData } from 'node:worker_threads';
import { ExactTokenizer } from '../../../workers/exact-tokenizer.js';

const { tokenizerPath, maxTokens } = workerData as { tokenizerPath: string; maxTokens: number };
const tokenizer = await ExactTokenizer.fromFile(tokenizerPath, maxTokens);
parentPort!.on('message', async ({ id, texts }: { id: number; texts: string[] }) => {
  const ids = await Promise.all(texts.map((text) => tokenizer.encode(text)));
  parentPort!.postMessage(
    { id, ids },
    ids.map((a) => a.buffer as ArrayBuffer),
  );
});
parentPort!.postMessage('ready');
