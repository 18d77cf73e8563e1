// Request bodies of the reference's grading run, shared by the k6 scripts and `npm run bench`.
// Plain ES module with no imports, so that k6 (goja) and Node load the same file.

/** The short list sent by 95% of iterations: after the first request, every one of these is a cache hit. */
export const FIXED = ['I love you!', 'I hate you!', 'I am a Kubernetes Cluster!'];

/** The pool that 5% of iterations send in a random order; a whole-body cache misses on each new order. */
export const POOL = [
  'I love you!',
  'I hate you!',
  'I am a Kubernetes Cluster!',
  'I ran to the store',
  'The students are very good in this class',
  'Working on Saturday morning is brutal',
  'How much wood could a wood chuck chuck if a wood chuck could chuck wood?',
  'A wood chuck would chuck as much wood as a wood chuck could chuck if a wood chuck could chuck wood',
  'Food is very tasty',
  'Welcome to the thunderdome',
];

/** The share of iterations that send FIXED. */
export const CACHE_RATE = 0.95;

/** A copy of `list` in random order (Fisher-Yates); `random` returns [0, 1). */
export function shuffled(list, random = Math.random) {
  const out = list.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

/** The texts of one iteration: FIXED with probability CACHE_RATE, else POOL shuffled. */
export function mixedTexts(random = Math.random) {
  return random() < CACHE_RATE ? FIXED : shuffled(POOL, random);
}

/** The JSON body of one iteration: `{"text": mixedTexts()}`. */
export function mixedBody(random = Math.random) {
  return JSON.stringify({ text: mixedTexts(random) });
}
