// The inputs that took pods down before exact token costs (issue 10), shared by the cgroup memory test and
// bench/micro/memory.ts. Every text is new (the nonce), so each round reaches the model.

export interface MemoryInput {
  /** (a)..(e), as the issue names them. */
  readonly name: string;
  readonly description: string;
  /** Request bodies, sent concurrently. */
  bodies(nonce: string): string[];
}

const PUNCTUATION = '!"#$%&()*+,-./:;<=>?@[]^_{|}~';
const CJK = '的一是不了人我在有他这中大来上国个到说们为子和也得地出道时年就那要下以生会自后';
const EMOJI = ['😀', '😂', '🥲', '😍', '🤔', '👍🏽', '👨‍👩‍👧', '🏳️‍🌈', '🔥', '✨'];
const WORDS = 'the film was long but never dull and its actors carry every scene with grace humour and a quiet anger'.split(' ');

/** `length` characters cycled from `alphabet`, starting at `seed`, so texts differ from their first character. */
function cycle(alphabet: readonly string[], length: number, seed: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(seed * 7 + i * 13 + (i >> 3)) % alphabet.length];
  return out.slice(0, length);
}

const body = (texts: string[]): string => JSON.stringify({ text: texts });

export const MEMORY_INPUTS: readonly MemoryInput[] = [
  {
    name: 'a',
    description: '64 texts x 510 random ASCII punctuation characters (35 KB body)',
    bodies: (nonce) => [body(Array.from({ length: 64 }, (_, i) => `${nonce}${i}` + cycle([...PUNCTUATION], 510, i)))],
  },
  {
    name: 'b',
    description: '64 texts x 378 CJK characters',
    bodies: (nonce) => [body(Array.from({ length: 64 }, (_, i) => `${nonce}${i}` + cycle([...CJK], 378, i)))],
  },
  {
    name: 'c',
    description: '64 texts x 200 emoji (ZWJ sequences, skin tones; every other text space-separated)',
    bodies: (nonce) => [
      body(
        Array.from(
          { length: 64 },
          (_, i) => `${nonce}${i} ` + Array.from({ length: 200 }, (_, k) => EMOJI[(i + k * 3) % EMOJI.length]).join(i % 2 ? ' ' : ''),
        ),
      ),
    ],
  },
  {
    name: 'd',
    description: '40 concurrent requests, one 1 MB English text each',
    bodies: (nonce) =>
      Array.from({ length: 40 }, (_, r) =>
        body([
          `${nonce}${r} ` +
            cycle(
              WORDS.map((w) => `${w} `),
              1_000_000,
              r,
            ),
        ]),
      ),
  },
  {
    name: 'e',
    description: 'one request of 1000 texts of ~600 tokens each',
    bodies: (nonce) => [body(Array.from({ length: 1000 }, (_, i) => `${nonce}${i} ` + cycle(['a', '.', 'b', ',', 'c', '!'], 600, i)))],
  },
];
