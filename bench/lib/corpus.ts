// Texts for the scenarios: real sentences (SST-2 dev), made unique where a scenario must miss every cache.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { SST2_DEV_TSV, STANDIN_MODEL_DIR } from '../../test/harness.js';

/** The sentences of a `sentence<TAB>label` TSV with a header row, trimmed, empty ones dropped. */
export function readSentences(tsvPath: string): string[] {
  const lines = readFileSync(tsvPath, 'utf8').split('\n').slice(1);
  const out = lines.map((line) => line.split('\t')[0]!.trim()).filter((s) => s.length > 0);
  if (out.length === 0) throw new Error(`no sentences in ${tsvPath}`);
  return out;
}

/** The labelled rows of an SST-2 TSV (`sentence<TAB>label`, header first): the accuracy tests score them. */
export function readLabelledSentences(tsvPath: string): { sentence: string; positive: boolean }[] {
  return readFileSync(tsvPath, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [sentence, label] = line.split('\t');
      return { sentence: sentence!, positive: label!.trim() === '1' };
    });
}

/** mulberry32: a tiny seeded PRNG, so a run's sequence of bodies can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Returns a generator of texts that no cache has seen: sentence i of the corpus (round robin) plus a
 * suffix with the run's nonce and a counter. The nonce keeps texts unique across runs sharing a cache.
 * Cheap and memoryless, for loads of thousands of bodies a second; the suffix adds 8 tokens to an SST-2
 * sentence's 25 on average, so where lengths matter use newSst2Sentences.
 */
export function uniqueTexts(sentences: readonly string[], nonce: string): () => string {
  let n = 0;
  return () => {
    const i = n++;
    return `${sentences[i % sentences.length]} (${nonce}-${i})`;
  };
}

export interface RealisticTextOptions {
  tokenizerPath: string;
  vocabPath: string;
  sentences: readonly string[];
  seed: number;
}

/**
 * Returns a generator of distinct real sentences with the corpus's own length distribution: sentence i (round
 * robin) with one of its whole words (a single vocabulary token) replaced by another vocabulary word, so the
 * token count stays that of the original (checked on a sample), and `lengthOf` for the ceiling's sorting.
 * Unlike uniqueTexts, the texts are as long as the corpus's; it keeps every text it made, to never repeat one.
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
      const slot = slots[Math.floor(random() * slots.length)]!;
      const word = vocab[Math.floor(random() * vocab.length)]!;
      // The same word again would send the corpus's own sentence, which a scenario may have cached.
      if (word === words[slot]) continue;
      words[slot] = word;
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

/** Never-seen SST-2 dev sentences with the corpus's token counts (realisticTexts, by the stand-in's tokenizer). */
export async function newSst2Sentences(seed: number): Promise<() => string> {
  const { next } = await realisticTexts({
    tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
    vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
    sentences: readSentences(SST2_DEV_TSV),
    seed,
  });
  return next;
}
