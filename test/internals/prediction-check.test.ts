// The check of values read from Redis accepts everything the formatter writes, for any logits, and nothing
// else: a false refusal would turn every Redis hit into a model run.
import t from 'tap';
import { createPredictionCheck, createPredictionFormatter } from '../../dist/src/inference/prediction-codec.js';

t.test('every prediction the formatter writes passes, also with ties, saturated scores and three labels', async (t) => {
  for (const labels of [['NEGATIVE', 'POSITIVE'], ['a', 'b', 'c'], ['only']]) {
    const format = createPredictionFormatter(labels);
    const isValid = createPredictionCheck(labels);
    const rows = [
      [0, 0, 0],
      [100, -100, 0],
      [-100, 100, 0],
      [1e-7, 0, 3],
      [88, 88, -88],
      [3.25, -1.5, 0.1],
    ];
    for (let i = 0; i < 500; i++) rows.push([0, 0, 0].map(() => (Math.random() - 0.5) * 40));
    const failures = rows.map((row) => format(Float32Array.from(row.slice(0, labels.length)), 0)).filter((json) => !isValid(json));
    t.same(failures, [], `${labels.length} label(s): all ${rows.length} pass`);
  }
});

t.test("the other model's labels, or another label order, do not pass", async (t) => {
  const written = createPredictionFormatter(['NEGATIVE', 'POSITIVE'])(Float32Array.from([1, 1]), 0);
  t.ok(createPredictionCheck(['NEGATIVE', 'POSITIVE'])(written), 'the model that wrote it');
  t.notOk(createPredictionCheck(['LABEL_0', 'LABEL_1'])(written), 'other labels');
  t.notOk(createPredictionCheck(['POSITIVE', 'NEGATIVE'])(written), 'a tie in the other label-id order');
});

/** The check as it was first written (JSON.parse, then the canonical string rebuilt): the rule the fast one keeps. */
function referenceCheck(labels: readonly string[], raw: boolean): (value: string) => boolean {
  const rank = new Map(labels.map((label, i) => [label, i]));
  return (value) => {
    let items: unknown;
    try {
      items = JSON.parse(value);
    } catch {
      return false;
    }
    if (!Array.isArray(items) || items.length !== labels.length) return false;
    const seen = new Set<string>();
    let canonical = '[';
    let sum = 0;
    let previous: { score: number; rank: number } | undefined;
    for (const item of items as unknown[]) {
      if (typeof item !== 'object' || item === null) return false;
      const { label, score } = item as { label?: unknown; score?: unknown };
      if (typeof label !== 'string' || !rank.has(label) || seen.has(label)) return false;
      if (typeof score !== 'number' || !(raw ? Number.isFinite(score) : score >= 0 && score <= 1)) return false;
      const current = { score, rank: rank.get(label)! };
      if (previous && (current.score > previous.score || (current.score === previous.score && current.rank < previous.rank))) return false;
      seen.add(label);
      sum += score;
      previous = current;
      canonical += `${canonical.length > 1 ? ',' : ''}{"label":${JSON.stringify(label)},"score":${JSON.stringify(score)}}`;
    }
    return (raw || Math.abs(sum - 1) < 1e-3) && `${canonical}]` === value;
  };
}

t.test('on written values and thousands of corruptions of them, the check agrees with the JSON.parse rule', async (t) => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const noise = ['0', '9', '.', '-', 'e', '+', '"', '}', '{', ',', ' ', '[', ']', ':', '\\', 'E', 'N', 'a'];
  for (const labels of [['NEGATIVE', 'POSITIVE'], ['a', 'ab', 'b"}'], ['only']]) {
    for (const raw of [false, true]) {
      const format = createPredictionFormatter(labels, raw ? 'none' : 'softmax');
      const fast = createPredictionCheck(labels, raw);
      const reference = referenceCheck(labels, raw);
      const counts = { accepted: 0, refused: 0 };
      const disagreements: string[] = [];
      for (let i = 0; i < 3000; i++) {
        const logits = Float32Array.from(labels.map(() => (random() < 0.2 ? 0 : (random() - 0.5) * 30)));
        let value = format(logits, 0);
        // Most values corrupted once or twice: a char dropped, doubled or replaced, or two items swapped.
        for (let m = Math.floor(random() * 3); m > 0; m--) {
          const at = Math.floor(random() * value.length);
          const kind = random();
          if (kind < 0.3) value = value.slice(0, at) + value.slice(at + 1);
          else if (kind < 0.5) value = value.slice(0, at) + value[at] + value.slice(at);
          else if (kind < 0.9) value = value.slice(0, at) + pick(noise) + value.slice(at + 1);
          else value = JSON.stringify((JSON.parse(format(logits, 0)) as unknown[]).reverse());
        }
        const want = reference(value);
        if (fast(value) !== want) disagreements.push(value);
        counts[want ? 'accepted' : 'refused']++;
      }
      t.same(disagreements, [], `${labels.join('/')}${raw ? ' raw' : ''}: the same verdict on every value`);
      t.ok(counts.accepted > 500 && counts.refused > 500, `both verdicts occur (${counts.accepted} accepted, ${counts.refused} refused)`);
    }
  }
});
