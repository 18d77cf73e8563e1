// Issue 15: what PER_ROW_QUANTIZATION costs. The stand-in as it is and rewritten by it
// (model/per-row-quantization.ts), each in a session made by the service's createSession, run in turns in this
// process on the same pre-tokenized batches: uniform 16-token texts, and the SST-2 dev sentences sorted by
// length and cut into batches. Target: the rewritten model keeps >= 95% of the sentences/s.
// Reported twice: by wall time, and by this process's CPU time, which a busy shared machine disturbs less.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { perRowQuantize, PER_ROW_QUANTIZATION_ID } from '../../model/per-row-quantization.js';
import { createSession } from '../../workers/session.js';
import { buildModelInputs } from '../../workers/model-inputs.js';
import { packBatch } from '../../workers/protocol.js';
import { readSentences } from '../lib/corpus.js';
import { SST2_DEV_TSV, STANDIN_MODEL_DIR } from '../lib/harness.js';
import { fmtPct, fmtRps, mdTable } from '../lib/format.js';
import { median } from '../lib/stats.js';
import { COMMON_OPTIONS, COMMON_USAGE, contextLines, endRun, numberFlag, say, startRun, writeResults } from './lib/run-context.js';
import { exactLengthTexts } from './lib/texts.js';

const NAME = 'per-row-quantization';
const TARGET = 0.95;

const USAGE = `Usage: node dist/bench/micro/${NAME}.js [options]

  --intra-op N        ORT intra-op threads of each session (default 1)
  --batch-size N      texts per model run, both workloads (default 16)
  --uniform-batches N batches of never-repeated 16-token texts per round (default 24)
  --rounds N          rounds; the order of the two models alternates (default 5)
  --seed N            seed of the generated texts (default 1)
${COMMON_USAGE}`;

type Feeds = Record<string, ort.Tensor>;
type Variant = 'as-is' | 'per-row';
interface Measure {
  sentences: number;
  wallS: number;
  cpuS: number;
}
interface RoundRecord {
  round: number;
  workload: string;
  variant: Variant;
  sentencesPerS: number;
  sentencesPerCpuS: number;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      'intra-op': { type: 'string' },
      'batch-size': { type: 'string' },
      'uniform-batches': { type: 'string' },
      rounds: { type: 'string' },
      seed: { type: 'string' },
      ...COMMON_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const cfg = {
    intraOp: numberFlag('intra-op', values['intra-op'], 1),
    batchSize: numberFlag('batch-size', values['batch-size'], 16),
    uniformBatches: numberFlag('uniform-batches', values['uniform-batches'], 24),
    rounds: numberFlag('rounds', values.rounds, 5),
    seed: numberFlag('seed', values.seed, 1),
  };
  const log = (line: string): void => say(NAME, line);
  const modelPath = join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx');
  const tokenizerPath = join(STANDIN_MODEL_DIR, 'tokenizer.json');
  const sentences = readSentences(SST2_DEV_TSV);

  const t0 = performance.now();
  const rewrite = perRowQuantize(readFileSync(modelPath));
  if (!rewrite) throw new Error(`${modelPath} quantizes nothing at run time: there is nothing to compare`);
  const rewriteMs = performance.now() - t0;
  const sessions: Record<Variant, ort.InferenceSession> = {
    'as-is': await createSession(modelPath, cfg.intraOp),
    'per-row': await createSession(modelPath, cfg.intraOp, rewrite.bytes),
  };
  log(`rewrite: ${rewrite.matMuls} MatMuls, ${rewrite.activations} activations, ${Math.round(rewriteMs)} ms`);

  const tokenizer = await Tokenizer.fromFile(tokenizerPath);
  tokenizer.setTruncation(512);
  // The same tensors the service's workers build from token ids.
  const feeds = async (texts: string[]): Promise<Feeds> => {
    const encodings = await tokenizer.encodeBatch(texts);
    return buildModelInputs(packBatch(encodings.map((e) => Int32Array.from(e.getIds())))).feeds as Feeds;
  };
  const batchesOf = async (texts: string[]): Promise<Feeds[]> => {
    const out: Feeds[] = [];
    for (let i = 0; i < texts.length; i += cfg.batchSize) out.push(await feeds(texts.slice(i, i + cfg.batchSize)));
    return out;
  };
  const nextText = await exactLengthTexts({
    tokenizerPath,
    vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
    sentences,
    tokens: 16,
    seed: cfg.seed,
  });
  const workloads: Record<string, Feeds[]> = {
    'uniform 16-token texts': await batchesOf(Array.from({ length: cfg.uniformBatches * cfg.batchSize }, nextText)),
    'SST-2 dev sentences, sorted by length': await batchesOf([...sentences].sort((a, b) => a.length - b.length)),
  };

  const run = async (session: ort.InferenceSession, batches: Feeds[]): Promise<Measure> => {
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    let n = 0;
    for (const f of batches) {
      await session.run(f);
      n += f.input_ids!.dims[0]!;
    }
    const cpu = process.cpuUsage(cpu0);
    return { sentences: n, wallS: (performance.now() - w0) / 1000, cpuS: (cpu.user + cpu.system) / 1e6 };
  };
  // Warm-up: the first runs of each shape allocate ORT's arenas.
  for (const session of Object.values(sessions)) for (const batches of Object.values(workloads)) await run(session, batches.slice(0, 8));

  const ctx = await startRun(
    NAME,
    argv,
    values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false),
    numberFlag('max-wait', values['max-wait'], 600),
  );
  const records: RoundRecord[] = [];
  for (let round = 0; round < cfg.rounds; round++) {
    const order: Variant[] = round % 2 === 0 ? ['as-is', 'per-row'] : ['per-row', 'as-is'];
    for (const [workload, batches] of Object.entries(workloads)) {
      for (const variant of order) {
        const m = await run(sessions[variant], batches);
        records.push({ round, workload, variant, sentencesPerS: m.sentences / m.wallS, sentencesPerCpuS: m.sentences / m.cpuS });
      }
      const [a, b] = order.map((v) => records.findLast((r) => r.variant === v && r.workload === workload)!);
      log(`round ${round + 1} ${workload}: ${a!.variant} ${fmtRps(a!.sentencesPerS)}/s, ${b!.variant} ${fmtRps(b!.sentencesPerS)}/s`);
    }
  }
  endRun(ctx);

  const summary = Object.keys(workloads).map((workload) => {
    const of = (variant: Variant, key: 'sentencesPerS' | 'sentencesPerCpuS'): number =>
      median(records.filter((r) => r.workload === workload && r.variant === variant).map((r) => r[key]));
    // The ratio of each round's pair, then the median: the two runs of a round share the machine's mood.
    const ratio = (key: 'sentencesPerS' | 'sentencesPerCpuS'): number =>
      median(
        Array.from({ length: cfg.rounds }, (_, round) => {
          const pick = (variant: Variant): number =>
            records.find((r) => r.round === round && r.workload === workload && r.variant === variant)![key];
          return pick('per-row') / pick('as-is');
        }),
      );
    return {
      workload,
      asIs: of('as-is', 'sentencesPerS'),
      perRow: of('per-row', 'sentencesPerS'),
      wallRatio: ratio('sentencesPerS'),
      asIsCpu: of('as-is', 'sentencesPerCpuS'),
      perRowCpu: of('per-row', 'sentencesPerCpuS'),
      cpuRatio: ratio('sentencesPerCpuS'),
    };
  });
  const verdict = (r: number): string => (r >= TARGET ? 'met' : 'MISSED');
  const markdown = [
    ...contextLines(ctx, `PER_ROW_QUANTIZATION: throughput of the rewritten model vs the model as it is (issue 15)`),
    ...mdTable(
      ['Setting', 'Value'],
      [
        [
          'models',
          `stand-in model_quantized.onnx as it is, and rewritten (${PER_ROW_QUANTIZATION_ID}: ${rewrite.matMuls} MatMuls, ${rewrite.activations} quantized activations, of which ${rewrite.layerNormActivations} LayerNorm outputs at a constant scale and ${rewrite.geluActivations} Gelu outputs; rewrite took ${Math.round(rewriteMs)} ms)`,
        ],
        [
          'sessions',
          `workers/session.ts createSession, intra-op ${cfg.intraOp}, in this process; batches pre-tokenized (the same tensors for both)`,
        ],
        [
          'workloads',
          `batches of ${cfg.batchSize}: ${cfg.uniformBatches} batches of distinct 16-token texts; the 872 SST-2 dev sentences sorted by length`,
        ],
        ['rounds', `${cfg.rounds}; order as-is, per-row, then reversed; medians of per-round rates and of per-round ratios`],
      ],
      2,
    ),
    '',
    `## Sentences per second (target: per-row >= ${fmtPct(TARGET)} of as-is)`,
    '',
    ...mdTable(
      [
        'Workload',
        'as-is /s',
        'per-row /s',
        'per-row / as-is (wall)',
        'as-is /CPU-s',
        'per-row /CPU-s',
        'per-row / as-is (CPU)',
        `>= ${fmtPct(TARGET)}`,
      ],
      summary.map((s) => [
        s.workload,
        fmtRps(s.asIs),
        fmtRps(s.perRow),
        fmtPct(s.wallRatio),
        fmtRps(s.asIsCpu),
        fmtRps(s.perRowCpu),
        fmtPct(s.cpuRatio),
        verdict(Math.max(s.wallRatio, s.cpuRatio)),
      ]),
      1,
    ),
    '',
    '## Rounds',
    '',
    ...mdTable(
      ['Round', 'Workload', 'Model', 'sentences/s', 'sentences/CPU-s'],
      records.map((r) => [String(r.round + 1), r.workload, r.variant, fmtRps(r.sentencesPerS), fmtRps(r.sentencesPerCpuS)]),
      3,
    ),
    '',
  ].join('\n');
  const base = await writeResults(
    ctx,
    values.out,
    { settings: cfg, rewrite: { ...rewrite, bytes: undefined, ms: rewriteMs }, summary, records },
    markdown,
  );
  process.stdout.write('\n' + markdown + '\n');
  log(`wrote ${base}.{json,md}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
