// The bench's pure parts: scenario bodies, percentiles, parity rules, and the report it renders.
import t from 'tap';
import { buildScenarios } from '../dist/bench/lib/scenarios.js';
import { newSst2Sentences, readSentences, seededRandom, uniqueTexts } from '../dist/bench/lib/corpus.js';
import { Tokenizer } from 'tokenizers';
import { join } from 'node:path';
import { SST2_DEV_TSV, STANDIN_MODEL_DIR } from './helper.js';
import { percentile } from '../dist/bench/lib/stats.js';
import { comparePredictions, shapeProblems, PARITY_TEXTS } from '../dist/bench/lib/parity.js';
import type { LoadResult } from '../dist/bench/lib/load.js';
import { summarize, type BenchReport, type RunRecord } from '../dist/bench/lib/report.js';
import { renderChart } from '../dist/bench/lib/chart.js';
import { renderMarkdown } from '../dist/bench/lib/markdown.js';
import { fmtRatio } from '../dist/bench/lib/format.js';
import { FIXED, POOL } from '../dist/bench/k6/sentences.js';

const sentences = Array.from({ length: 200 }, (_, i) => `sentence number ${i} .`);
const scenarios = () => buildScenarios({ quick: false, sentences, random: seededRandom(7), unique: uniqueTexts(sentences, 'n') });
const texts = (body: string): string[] => JSON.parse(body).text;

t.test('The cached scenario sends the same three-sentence body every time.', async (t) => {
  const cached = scenarios().find((s) => s.name === 'cached')!;
  t.same(texts(cached.nextBody()), FIXED);
  t.equal(cached.nextBody(), cached.nextBody());
});

t.test('The mixed scenario sends the fixed body 95% of the time and otherwise a shuffled pool.', async (t) => {
  const mixed = scenarios().find((s) => s.name === 'mixed')!;
  let fixed = 0;
  for (let i = 0; i < 4000; i++) {
    const body = texts(mixed.nextBody());
    if (JSON.stringify(body) === JSON.stringify(FIXED)) fixed++;
    else t.same([...body].sort(), [...POOL].sort());
  }
  t.ok(Math.abs(fixed / 4000 - 0.95) < 0.03, `fixed share ${fixed / 4000}`);
});

t.test('The uncached scenario sends three texts of its never-seen generator per request.', async (t) => {
  const uncached = scenarios().find((s) => s.name === 'uncached')!;
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) for (const x of texts(uncached.nextBody())) seen.add(x);
  t.equal(seen.size, 1500);
});

t.test(
  "The bench's new texts are SST-2 dev sentences with a word swapped: never repeated, never a dev sentence, as long as the dev set's",
  async (t) => {
    const dev = readSentences(SST2_DEV_TSV);
    const next = await newSst2Sentences(11);
    const generated = Array.from({ length: 3 * dev.length }, next);
    t.equal(new Set(generated).size, generated.length, 'no repeats');
    const devSet = new Set(dev);
    t.equal(generated.filter((x) => devSet.has(x)).length, 0, 'none is a dev sentence');
    const tokenizer = await Tokenizer.fromFile(join(STANDIN_MODEL_DIR, 'tokenizer.json'));
    const meanTokens = async (xs: string[]) => (await tokenizer.encodeBatch(xs)).reduce((sum, e) => sum + e.getLength(), 0) / xs.length;
    const [devMean, generatedMean] = [await meanTokens(dev), await meanTokens(generated)];
    t.ok(Math.abs(generatedMean - devMean) < 0.5, `mean tokens ${generatedMean.toFixed(2)} vs the dev set's ${devMean.toFixed(2)}`);
    t.not(await newSst2Sentences(12).then((other) => other()), generated[0], 'another seed, other texts');
  },
);

t.test('The large scenario sends 100 texts, half of them the same 50 on every request.', async (t) => {
  const large = scenarios().find((s) => s.name === 'large')!;
  const first = texts(large.nextBody());
  const second = texts(large.nextBody());
  t.equal(first.length, 100);
  const shared = first.filter((x) => second.includes(x));
  t.equal(shared.length, 50);
  t.same(new Set(shared), new Set(sentences.slice(0, 50)));
});

t.test('Quick mode uses fewer connections than the full run, and nothing pipelines.', async (t) => {
  const full = scenarios();
  const quick = buildScenarios({ quick: true, sentences, random: seededRandom(7), unique: uniqueTexts(sentences, 'n') });
  t.same(
    quick.map((s) => s.name),
    ['cached', 'mixed', 'uncached', 'large'],
  );
  quick.forEach((q, i) => t.ok(q.connections <= full[i]!.connections));
  t.ok([...full, ...quick].every((s) => s.pipelining === 1));
});

t.test('Percentiles use the nearest rank.', async (t) => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(sorted, 50), 50);
  t.equal(percentile(sorted, 99), 99);
  t.equal(percentile(sorted, 100), 100);
  t.equal(percentile([3], 99), 3);
  t.ok(Number.isNaN(percentile([], 50)));
});

t.test('Parity accepts score noise within 0.02 and rejects a label flip or a larger difference.', async (t) => {
  const p = (pos: number) =>
    pos >= 0.5
      ? [
          { label: 'POSITIVE', score: pos },
          { label: 'NEGATIVE', score: 1 - pos },
        ]
      : [
          { label: 'NEGATIVE', score: 1 - pos },
          { label: 'POSITIVE', score: pos },
        ];
  t.same(comparePredictions(['a', 'b'], [p(0.9), p(0.1)], [p(0.915), p(0.1)]).problems, []);
  t.equal(comparePredictions(['a'], [p(0.9)], [p(0.93)]).problems.length, 2, 'both labels are off by 0.03');
  t.match(comparePredictions(['a'], [p(0.51)], [p(0.495)]).problems[0], /label POSITIVE vs NEGATIVE/);
  t.ok(comparePredictions(['a'], [p(0.9)], [p(0.915)]).maxScoreDiff > 0.014);
  t.ok(PARITY_TEXTS.length >= 15 && new Set(PARITY_TEXTS).size === PARITY_TEXTS.length);
});

t.test('The response shape check wants two sorted labels per text that sum to 1.', async (t) => {
  const ok = {
    predictions: [
      [
        { label: 'POSITIVE', score: 0.8 },
        { label: 'NEGATIVE', score: 0.2 },
      ],
    ],
  };
  t.same(shapeProblems(ok, 1), []);
  t.match(shapeProblems(ok, 2)[0], /1 predictions for 2 texts/);
  t.match(
    shapeProblems(
      {
        predictions: [
          [
            { label: 'NEGATIVE', score: 0.2 },
            { label: 'POSITIVE', score: 0.8 },
          ],
        ],
      },
      1,
    )[0],
    /not sorted/,
  );
  t.match(
    shapeProblems(
      {
        predictions: [
          [
            { label: 'POSITIVE', score: 0.8 },
            { label: 'POSITIVE', score: 0.2 },
          ],
        ],
      },
      1,
    )[0],
    /labels/,
  );
  t.match(
    shapeProblems(
      {
        predictions: [
          [
            { label: 'POSITIVE', score: 0.8 },
            { label: 'NEGATIVE', score: 0.1 },
          ],
        ],
      },
      1,
    )[0],
    /sum/,
  );
  t.match(shapeProblems({ detail: [] }, 1)[0], /no "predictions"/);
});

function measurement(rps: number, p50: number, p99: number, non2xx = 0): LoadResult {
  return {
    connections: 10,
    pipelining: 1,
    ok: Math.round(rps * 10) - non2xx,
    okRps: rps - non2xx / 10,
    bytesPerResponse: 200,
    serverCpuUsPerRequest: null,
    rps,
    p50,
    p90: p99,
    p99,
    meanMs: p50,
    maxMs: p99,
    requests: Math.round(rps * 10),
    non2xx,
    errors: 0,
    timeouts: 0,
    durationS: 10,
    serverCpu: 0.9,
    clientCpu: 0.5,
  };
}

function fakeReport(): BenchReport {
  const list = scenarios().map((s) => (s.name === 'cached' ? { ...s, description: 'a <weird> & "quoted" body' } : s));
  const runs: RunRecord[] = [];
  for (const s of list) {
    for (const round of [0, 1, 2]) {
      runs.push({
        scenario: s.name,
        target: 'ours',
        round,
        sequence: runs.length,
        warmup: measurement(1, 1, 1),
        measured: measurement(300 + round * 100, 2, 10),
      });
      runs.push({
        scenario: s.name,
        target: 'peer',
        round,
        sequence: runs.length,
        warmup: measurement(1, 1, 1),
        measured: measurement(100, 4, 40, round === 0 ? 3 : 0),
      });
    }
  }
  return {
    schemaVersion: 1,
    startedAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T03:10:00.000Z',
    git: { sha: 'abc1234', dirty: true },
    machine: { cpuModel: 'Test CPU', cpus: 2, memoryGiB: 24, os: 'Linux', node: '20.0.0' },
    mode: 'full',
    settings: { warmupS: 5, durationS: 15, rounds: 3, workers: 2, seed: 42, contentType: 'none', order: 'alternating' },
    targets: {
      ours: { description: 'this service', script: 'dist/src/main.js', env: { WORKERS: '2' } },
      peer: { description: 'the peer', script: 'dist/bench/peers/transformers-peer.js', env: {} },
    },
    parity: { texts: 20, maxScoreDiff: 0.001, tolerance: 0.02 },
    scenarios: summarize(list, runs),
    runs,
  };
}

t.test('A summary takes the median over rounds, sums failures, and divides ours by the peer.', async (t) => {
  const [cached] = fakeReport().scenarios;
  t.equal(cached!.ours.rps, 400);
  t.equal(cached!.peer.non2xx, 3);
  t.equal(cached!.ratios.rps, 4);
  t.equal(cached!.ratios.p99, 0.25);
  t.equal(fmtRatio(4), '×4.00');
  t.equal(fmtRatio(0.0012345), '×0.0012');
  t.equal(fmtRatio(Number.NaN), 'n/a');
});

t.test('The Markdown has the ratios table, the results with failures, the settings and the chart.', async (t) => {
  const md = renderMarkdown(fakeReport(), 'run.svg');
  t.match(md, '![Throughput and p50/p99 latency per scenario, ours vs the peer](run.svg)');
  t.match(md, '| Scenario | req/s ours/peer | p50 ours/peer | p99 ours/peer |');
  t.match(md, '| cached | ×4.00 | ×0.50 | ×0.25 |');
  t.match(md, /\| cached \| peer \| 100 \| 4\.00 \| 40\.0 \| 40\.0 \| 3000 \| 3 \| 0\.90 \| 0\.50 \|/);
  t.match(md, '| large | 100 texts per request');
  t.match(md, 'no Content-Type header');
  t.match(md, 'uncommitted changes');
});

t.test('The chart has one group per scenario with six bars, and escapes text.', async (t) => {
  const svg = renderChart(fakeReport());
  t.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.equal(svg.match(/<g class="scenario"/g)?.length, 4);
  t.equal(svg.match(/<rect class="bar ours"/g)?.length, 12);
  t.equal(svg.match(/<rect class="bar peer"/g)?.length, 12);
  t.match(svg, 'a &lt;weird&gt; &amp; &quot;quoted&quot;');
  t.notMatch(svg, '<weird>');
  t.match(svg, 'ours/peer ×4.00');
  t.match(svg, '(3 failed)');
});
