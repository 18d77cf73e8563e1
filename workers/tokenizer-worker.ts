// piscina worker: a tokenizer thread. Main-thread tokenization through the `tokenizers` async API cost the
// event loop ~5x more per text than posting texts here (docs/performance.md, "Answered once"), so requests' texts
// are tokenized here, exactly, before they are admitted and batched.
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { ExactTokenizer } from './exact-tokenizer.js';
import type { TokenizeTask, Tokenized, TokenizerWorkerData } from './protocol.js';

const data = workerData as TokenizerWorkerData;
const tokenizer = await ExactTokenizer.fromFile(data.tokenizerPath, data.maxTokens);

function tokenizeOne(text: string, pair: string | null, untruncated: boolean): Promise<Tokenized> {
  if (untruncated) return tokenizer.encodeUntruncated(text, pair);
  if (pair !== null) return tokenizer.encodePair(text, pair);
  return tokenizer.encode(text).then((ids) => ({ ids }));
}

export default async function tokenize(task: TokenizeTask): Promise<unknown> {
  const out = await Promise.all(task.texts.map((text, i) => tokenizeOne(text, task.pairs?.[i] ?? null, task.untruncated === true)));
  const buffers = out.flatMap((t) => (t.typeIds ? [t.ids.buffer, t.typeIds.buffer] : [t.ids.buffer]));
  return move({ [transferableSymbol]: buffers, [valueSymbol]: out } as never);
}
