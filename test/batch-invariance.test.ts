// PER_ROW_QUANTIZATION=true over HTTP: a text's scores are the same whatever it is batched with, accuracy
// on the SST-2 dev set does not drop, and the labels agree with the untransformed model's.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logRecords, postPredict, scrape, SST2_DEV_TSV, STANDIN_MODEL_DIR, startService, type ServiceProcess } from './helper.js';
import { readLabelledSentences, seededRandom } from '../dist/bench/lib/corpus.js';

// About 3,900 sequential model runs: minutes on a shared 2-core machine.
t.setTimeout(600_000);

const rows = readLabelledSentences(SST2_DEV_TSV);
const sentences = rows.map((r) => r.sentence);
const random = seededRandom(15);
const shuffle = <T>(xs: readonly T[]): T[] => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

type Scores = Map<string, number>;
const positiveScore = (prediction: { label: string; score: number }[]): number => prediction.find((p) => p.label === 'POSITIVE')!.score;

async function oneAtATime(service: ServiceProcess, texts: readonly string[]): Promise<Scores> {
  const scores: Scores = new Map();
  for (const text of texts) {
    const res = await postPredict(service.url, { text: [text] });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${res.text}`);
    scores.set(text, positiveScore(res.body.predictions[0]));
  }
  return scores;
}

/**
 * Sends each group as one request, one request at a time. The batch policy cuts a request's texts into
 * length-sorted runs by cost, so a text shares its run with texts of other requests' shapes, never alone.
 */
async function inBatches(service: ServiceProcess, groups: readonly string[][]): Promise<{ scores: Scores; runs: number }> {
  const scores: Scores = new Map();
  const [runsBefore] = await scrape(service.url, 'inf_model_runs_total');
  for (const group of groups) {
    const res = await postPredict(service.url, { text: group });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${res.text}`);
    group.forEach((text, i) => scores.set(text, positiveScore(res.body.predictions[i])));
  }
  const [runsAfter] = await scrape(service.url, 'inf_model_runs_total');
  return { scores, runs: runsAfter - runsBefore };
}

const correct = (scores: Scores): number => rows.filter((r) => scores.get(r.sentence)! > 0.5 === r.positive).length;
/** The untransformed stand-in's offline accuracy, one sentence at a time: 0.8039 is 701 of 872. */
const untransformedCorrect = Math.round(
  Number(JSON.parse(readFileSync(join(STANDIN_MODEL_DIR, 'metrics.json'), 'utf8')).dev_accuracy) * rows.length,
);
const percent = (n: number): string => `${((n / rows.length) * 100).toFixed(2)} % (${n} of ${rows.length})`;

// One worker and no in-process cache: every request reaches the model.
const env = { WORKERS: '1', CACHE_LRU_ENTRIES: '0', MAX_BATCH_SIZE: '32', REQUEST_TIMEOUT_MS: '120000' };
const perRow = await startService({ ...env, PER_ROW_QUANTIZATION: 'true' });
t.teardown(() => perRow.stop());
const solo = await oneAtATime(perRow, sentences);

t.test('200 dev sentences score the same alone and inside five different random batches of 32 (max diff <= 1e-5)', async (t) => {
  const chosen = shuffle(sentences).slice(0, 200);
  const others = sentences.filter((s) => !chosen.includes(s));
  let worst = 0;
  for (let round = 0; round < 5; round++) {
    // 25 of the chosen sentences and 7 others of any length per batch, in a new random order each round.
    const order = shuffle(chosen);
    const groups = Array.from({ length: 8 }, (_, g) => shuffle([...order.slice(g * 25, g * 25 + 25), ...shuffle(others).slice(0, 7)]));
    const { scores: batched, runs } = await inBatches(perRow, groups);
    t.ok(
      runs <= (groups.length * 32) / 2,
      `round ${round + 1}: ${groups.length} requests of 32 texts ran as ${runs} model runs, texts shared them`,
    );
    for (const text of chosen) worst = Math.max(worst, Math.abs(batched.get(text)! - solo.get(text)!));
  }
  t.ok(worst <= 1e-5, `largest difference of a POSITIVE score between alone and batched: ${worst}`);
});

t.test(
  `dev accuracy is not lower than the untransformed model's ${percent(untransformedCorrect)}, one at a time and in batches`,
  async (t) => {
    const alone = correct(solo);
    t.ok(alone >= untransformedCorrect, `one at a time: ${percent(alone)}`);
    const groups = [];
    const order = shuffle(sentences);
    for (let i = 0; i < order.length; i += 32) groups.push(order.slice(i, i + 32));
    const { scores: batched, runs } = await inBatches(perRow, groups);
    t.ok(runs <= order.length / 2, `${order.length} texts in ${groups.length} requests ran as ${runs} model runs, texts shared them`);
    const inBatch = correct(batched);
    t.ok(inBatch >= untransformedCorrect, `in random batches of 32: ${percent(inBatch)}`);
  },
);

t.test("labels agree with the untransformed model's on >= 99.5 % of dev sentences; the two modes have different model ids", async (t) => {
  const plain = await startService({ ...env, PER_ROW_QUANTIZATION: 'false' });
  t.teardown(() => plain.stop());
  const untransformed = await oneAtATime(plain, sentences);
  const agree = sentences.filter((s) => solo.get(s)! > 0.5 === untransformed.get(s)! > 0.5).length / sentences.length;
  t.ok(
    agree >= 0.995,
    `labels agree on ${(agree * 100).toFixed(2)} % (${Math.round((1 - agree) * sentences.length)} of ${sentences.length} differ)`,
  );
  const modelLine = (service: ServiceProcess) => logRecords(service.output()).find((record) => record.msg === 'model')!;
  const [a, b] = [modelLine(perRow), modelLine(plain)];
  t.not(a.modelId, b.modelId, `model ids ${a.modelId} (per-row) and ${b.modelId} (as in the file) differ, so cache keys differ`);
  t.equal(a.sha256, b.sha256, 'the same file');
  t.equal(a.activationQuantization.rewrite, 'per-row-int8-v3', 'the log names the rewrite');
});
