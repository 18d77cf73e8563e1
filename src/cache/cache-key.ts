import { hash } from 'node:crypto';
import { slotsAfter } from './key-slot.js';

/** What the model scores: one text, or a text pair (text, text_pair) read through the tokenizer's pair template. */
export type TextInput = string | readonly [string, string];

/**
 * The one string that names a model input everywhere (the in-process cache, the queue's single flight, Redis),
 * injective over inputs and output kinds, so that a pair never meets a single text or another pair:
 * - a single text is its own key (what bulk-predict has always used), unless it starts with NUL: then `\0s` + text;
 * - a pair is `\0p` + the first text's length + `:` + both texts (the length says where the first one ends);
 * - its raw logits (TEI's raw_scores) are `\0r` + the input's key;
 * - the in-process mark that it fits the model untruncated is `\0w` + the input's key (fitsKey, never in Redis).
 * Every key not of a plain single text starts with NUL and a tag, which no plain single text does.
 */
export function inputKey(input: TextInput): string {
  if (typeof input === 'string') return input.charCodeAt(0) === 0 ? '\0s' + input : input;
  return `\0p${input[0].length}:${input[0]}${input[1]}`;
}

export function rawKey(key: string): string {
  return '\0r' + key;
}

/**
 * The in-process tier's mark that an input fits the model whole (`\0w` + the input's key, whatever output kind
 * asked): what truncate: false needs to know of a cached input, so it is tokenized only once.
 */
export function fitsKey(key: string): string {
  return '\0w' + (isRawKey(key) ? key.slice(2) : key);
}

export function isRawKey(key: string): boolean {
  return key.charCodeAt(0) === 0 && key[1] === 'r';
}

/**
 * Redis key of an input's prediction: `<prefix>::<model id>::<sha256 of the text>` for a single text (as it has
 * always been), `<prefix>::<model id>::pair::<sha256 of the pair's key>` for a pair and `...::raw::<sha256 of
 * the input's key>` for raw logits. The model id is part of every key, so a new model never reads an old model's
 * scores; hashing bounds key length whatever the text.
 */
export interface CacheKeyOf {
  (key: string): string;
  /**
   * The same key, and its Redis Cluster slot pushed onto `slots`: read off the digest while it is a string of
   * its own (key-slot.ts slotsAfter), about a third of the cost of reading it off the finished key. A cluster
   * groups each lookup's keys by slot.
   */
  withSlot(key: string, slots: number[]): string;
}

export function createCacheKey(prefix: string, modelId: string): CacheKeyOf {
  const head = `${prefix}::${modelId}::`;
  const heads = { text: head, pair: `${head}pair::`, raw: `${head}raw::` };
  // Made on the first key asked with its slot: only a cluster asks.
  let slotOf: Record<keyof typeof heads, (digest: string) => number> | undefined;
  // crypto.hash: one call, ~3x cheaper than createHash().update().digest() for a key's short input.
  const sha = (s: string): string => hash('sha256', s, 'hex');
  const make = (key: string, slots: number[] | undefined): string => {
    let kind: keyof typeof heads = 'text';
    let hashed = key;
    if (key.charCodeAt(0) === 0) {
      if (key[1] === 's') hashed = key.slice(2);
      else kind = key[1] === 'p' ? 'pair' : 'raw';
    }
    const digest = sha(hashed);
    if (slots) {
      slotOf ??= { text: slotsAfter(heads.text), pair: slotsAfter(heads.pair), raw: slotsAfter(heads.raw) };
      slots.push(slotOf[kind](digest));
    }
    return heads[kind] + digest;
  };
  return Object.assign((key: string) => make(key, undefined), { withSlot: make });
}
