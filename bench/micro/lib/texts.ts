// Texts of an exact token length that no cache has seen, so model-bound benchmarks compare like with like.
import { readFileSync } from 'node:fs';
import { Tokenizer } from 'tokenizers';
import { seededRandom } from '../../lib/corpus.js';

/** Fewest random vocabulary words per text: 21k words cubed leaves collisions to the Set below. */
const MIN_RANDOM_WORDS = 3;

export interface TextSourceOptions {
  tokenizerPath: string;
  /** vocab.txt beside the tokenizer: its whole lowercase words are single tokens. */
  vocabPath: string;
  sentences: readonly string[];
  /** Tokens per text, [CLS] and [SEP] included. */
  tokens: number;
  seed: number;
}

/**
 * Returns a generator of distinct texts of exactly `tokens` tokens: real SST-2 sentences, joined while they
 * fit, then completed with random whole words from the vocabulary. BERT's pre-tokenizer splits on whitespace
 * and punctuation, so joining with spaces adds token counts exactly; a sample is checked with the tokenizer.
 */
export async function exactLengthTexts(opts: TextSourceOptions): Promise<() => string> {
  const content = opts.tokens - 2;
  if (content < MIN_RANDOM_WORDS) throw new Error(`a text needs at least ${MIN_RANDOM_WORDS + 2} tokens, got ${opts.tokens}`);
  const tokenizer = Tokenizer.fromFile(opts.tokenizerPath);
  const encodings = await tokenizer.encodeBatch([...opts.sentences]);
  // Sorted by length, so the sentences that still fit are a prefix (found by binary search).
  const pieces = opts.sentences
    .map((text, i) => ({ text, length: encodings[i]!.getLength() - 2 }))
    .filter((p) => p.length > 0 && p.length <= content - MIN_RANDOM_WORDS)
    .sort((a, b) => a.length - b.length);
  const words = readFileSync(opts.vocabPath, 'utf8')
    .split('\n')
    .filter((w) => /^[a-z]{3,}$/.test(w));
  const random = seededRandom(opts.seed);
  const pick = <T>(xs: readonly T[], n = xs.length): T => xs[Math.floor(random() * n)]!;
  const fitting = (room: number): number => {
    let lo = 0;
    let hi = pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pieces[mid]!.length <= room) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const seen = new Set<string>();
  const make = (): string => {
    for (;;) {
      const parts: string[] = [];
      let left = content;
      for (let n = fitting(left - MIN_RANDOM_WORDS); n > 0; n = fitting(left - MIN_RANDOM_WORDS)) {
        const piece = pick(pieces, n);
        parts.push(piece.text);
        left -= piece.length;
      }
      for (; left > 0; left--) parts.push(pick(words));
      const text = parts.join(' ');
      if (seen.has(text)) continue;
      seen.add(text);
      return text;
    }
  };
  const sample = Array.from({ length: 256 }, make);
  const lengths = (await tokenizer.encodeBatch(sample)).map((e) => e.getLength());
  const wrong = lengths.findIndex((n) => n !== opts.tokens);
  if (wrong >= 0) throw new Error(`generated text has ${lengths[wrong]} tokens, not ${opts.tokens}: ${JSON.stringify(sample[wrong])}`);
  return make;
}
