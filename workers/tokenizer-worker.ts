// piscina worker: a tokenizer thread. Main-thread tokenization through the `tokenizers` async API cost the
// event loop ~5x more per text than posting texts here (docs/performance.md, "Answered once"), so requests' texts
// are tokenized here, exactly, before they are admitted and batched.
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ExactTokenizer } from './exact-tokenizer.js';
import type { TokenizeTask, TokenizerWorkerData } from './protocol.js';

const data = workerData as TokenizerWorkerData;
const tokenizer = await ExactTokenizer.fromFile(data.tokenizerPath, data.maxTokens);

export default async function tokenize(task: TokenizeTask): Promise<unknown> {
  const ids = await Promise.all(task.texts.map((text) => tokenizer.encode(text)));
  return move({ [transferableSymbol]: ids.map((a) => a.buffer), [valueSymbol]: ids } as never);
}
