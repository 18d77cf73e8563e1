// Texts for the scenarios: real sentences (SST-2 dev), made unique where a scenario must miss every cache.
import { readFileSync } from 'node:fs';

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
 */
export function uniqueTexts(sentences: readonly string[], nonce: string): () => string {
  let n = 0;
  return () => {
    const i = n++;
    return `${sentences[i % sentences.length]} (${nonce}-${i})`;
  };
}
