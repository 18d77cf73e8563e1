// Before any timing: both servers must answer the same API with the same predictions, or the numbers
// compare different products.
import { FIXED, POOL } from '../k6/sentences.js';
import { PREDICT_PATH } from '../../test/harness.js';

/** Scores of the int8 model move with batch composition (up to ~0.015 on SST-2 dev); labels must not. */
export const SCORE_TOLERANCE = 0.02;

// Short and long, positive and negative, none of them near 0.5, so no label can flip on batching noise.
export const PARITY_TEXTS: readonly string[] = [
  ...new Set([...FIXED, ...POOL]),
  'I hate you.',
  'I love you.',
  'The film was terrible.',
  'A masterpiece.',
  "it 's a charming and often affecting journey .",
  'unflinchingly bleak and desperate',
  "it 's slow -- very , very slow .",
  'a sometimes tedious film .',
  'the mesmerizing performances of the leads keep the film grounded and keep the audience riveted .',
  '... the movie is just a plain old monster .',
];

export interface LabelScore {
  label: string;
  score: number;
}
export type Predictions = LabelScore[][];

export interface Target {
  name: string;
  url: string;
}

/** Problems with one response's shape for `n` texts: both labels per text, sorted by score, summing to 1. */
export function shapeProblems(body: unknown, n: number): string[] {
  const preds = (body as { predictions?: unknown } | null)?.predictions;
  if (!Array.isArray(preds)) return ['no "predictions" array'];
  if (preds.length !== n) return [`${preds.length} predictions for ${n} texts`];
  const problems: string[] = [];
  preds.forEach((p: unknown, i) => {
    const ok =
      Array.isArray(p) &&
      p.length === 2 &&
      p.every((x) => typeof x?.label === 'string' && typeof x?.score === 'number' && x.score >= 0 && x.score <= 1);
    if (!ok) {
      problems.push(`text ${i}: not two {label, score} entries`);
      return;
    }
    const [a, b] = p as LabelScore[];
    if (new Set([a!.label, b!.label]).size !== 2 || ![a!.label, b!.label].every((l) => l === 'POSITIVE' || l === 'NEGATIVE')) {
      problems.push(`text ${i}: labels ${a!.label}, ${b!.label}`);
    }
    if (a!.score < b!.score) problems.push(`text ${i}: not sorted by descending score`);
    if (Math.abs(a!.score + b!.score - 1) > 1e-3) problems.push(`text ${i}: scores sum to ${a!.score + b!.score}`);
  });
  return problems;
}

/** Differences between two answers for `texts`: top label, or any label's score beyond `tolerance`. */
export function comparePredictions(
  texts: readonly string[],
  a: Predictions,
  b: Predictions,
  tolerance = SCORE_TOLERANCE,
): { problems: string[]; maxScoreDiff: number } {
  const problems: string[] = [];
  let maxScoreDiff = 0;
  texts.forEach((text, i) => {
    const pa = a[i]!;
    const pb = b[i]!;
    if (pa[0]!.label !== pb[0]!.label) problems.push(`"${text}": label ${pa[0]!.label} vs ${pb[0]!.label}`);
    for (const { label, score } of pa) {
      const other = pb.find((x) => x.label === label)?.score ?? Number.NaN;
      const diff = Math.abs(score - other);
      maxScoreDiff = Math.max(maxScoreDiff, Number.isNaN(diff) ? Infinity : diff);
      if (!(diff <= tolerance)) problems.push(`"${text}": ${label} ${score.toFixed(4)} vs ${other.toFixed(4)}`);
    }
  });
  return { problems, maxScoreDiff };
}

async function predict(target: Target, texts: readonly string[], contentType: boolean): Promise<Predictions> {
  const res = await fetch(target.url + PREDICT_PATH, {
    method: 'POST',
    headers: contentType ? { 'content-type': 'application/json' } : {},
    // A Uint8Array body makes fetch send no Content-Type of its own (a string would get text/plain).
    body: new TextEncoder().encode(JSON.stringify({ text: texts })),
  });
  const raw = await res.text();
  const what = `${target.name}: POST ${PREDICT_PATH} (${contentType ? 'application/json' : 'no Content-Type'})`;
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${raw.slice(0, 300)}`);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new Error(`${what} answered non-JSON: ${raw.slice(0, 300)}`);
  }
  const problems = shapeProblems(body, texts.length);
  if (problems.length > 0) throw new Error(`${what}: ${problems.slice(0, 5).join('; ')}`);
  return (body as { predictions: Predictions }).predictions;
}

async function checkHealth(target: Target): Promise<void> {
  const res = await fetch(`${target.url}/project/health`);
  const body = (await res.json().catch(() => undefined)) as { status?: unknown } | undefined;
  if (res.status !== 200 || body?.status !== 'healthy') {
    throw new Error(`${target.name}: GET /project/health answered ${res.status} ${JSON.stringify(body)}`);
  }
}

/**
 * Checks that `ours` and `peer` serve the same API and agree on PARITY_TEXTS, with and without a
 * Content-Type header; throws with the differences if not.
 */
export async function checkParity(
  ours: Target,
  peer: Target,
  texts: readonly string[] = PARITY_TEXTS,
): Promise<{ texts: number; maxScoreDiff: number; tolerance: number }> {
  let maxScoreDiff = 0;
  for (const target of [ours, peer]) await checkHealth(target);
  for (const contentType of [false, true]) {
    const a = await predict(ours, texts, contentType);
    const b = await predict(peer, texts, contentType);
    const cmp = comparePredictions(texts, a, b);
    if (cmp.problems.length > 0) {
      throw new Error(
        `${ours.name} and ${peer.name} disagree on ${cmp.problems.length} score(s):\n  ${cmp.problems.slice(0, 10).join('\n  ')}`,
      );
    }
    maxScoreDiff = Math.max(maxScoreDiff, cmp.maxScoreDiff);
  }
  return { texts: texts.length, maxScoreDiff, tolerance: SCORE_TOLERANCE };
}
