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

/** Long hostile texts (CJK, emoji, giant words, control characters...) from the tests' generator. */
export { hostileTexts as hostileTextsForBench } from './hostile-texts.js';

export interface RealisticTextOptions {
  tokenizerPath: string;
  vocabPath: string;
  sentences: readonly string[];
  seed: number;
}

/**
 * Returns a generator of distinct real sentences with the corpus's own length distribution: sentence i (round
 * robin) with one of its whole words (a single vocabulary token) replaced by a random vocabulary word, so the
 * token count stays that of the original (checked on a sample), and `lengthOf` for the ceiling's sorting.
 */
export async function realisticTexts(
  opts: RealisticTextOptions,
): Promise<{ next: () => string; lengthsOf: (texts: string[]) => Promise<number[]> }> {
  const tokenizer = Tokenizer.fromFile(opts.tokenizerPath);
  const vocab = readFileSync(opts.vocabPath, 'utf8')
    .split('\n')
    .filter((w) => /^[a-z]{3,}$/.test(w));
  const inVocab = new Set(vocab);
  const usable = opts.sentences.map((s) => s.split(' ')).filter((words) => words.some((w) => inVocab.has(w)));
  const random = seededRandom(opts.seed);
  const seen = new Set<string>();
  let i = 0;
  const next = (): string => {
    for (;;) {
      const words = [...usable[i++ % usable.length]!];
      const slots = words.map((w, k) => (inVocab.has(w) ? k : -1)).filter((k) => k >= 0);
      words[slots[Math.floor(random() * slots.length)]!] = vocab[Math.floor(random() * vocab.length)]!;
      const text = words.join(' ');
      if (seen.has(text)) continue;
      seen.add(text);
      return text;
    }
  };
  const lengthsOf = async (texts: string[]): Promise<number[]> => (await tokenizer.encodeBatch(texts)).map((e) => e.getLength());
  const originals = usable.slice(0, 256).map((w) => w.join(' '));
  const probe = Array.from({ length: originals.length }, (_, k) => {
    const words = originals[k]!.split(' ');
    const slot = words.findIndex((w) => inVocab.has(w));
    words[slot] = vocab[(k * 7919) % vocab.length]!;
    return words.join(' ');
  });
  const [before, after] = [await lengthsOf(originals), await lengthsOf(probe)];
  const wrong = before.findIndex((n, k) => n !== after[k]);
  if (wrong >= 0)
    throw new Error(`a word swap changed the token count: ${JSON.stringify(originals[wrong])} -> ${JSON.stringify(probe[wrong])}`);
  return { next, lengthsOf };
}
