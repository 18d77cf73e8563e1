// Issue 11: where a model run's time goes, to bound what any batching can win. The stand-in's int8 model, one
// intra-op thread, the SST-2 dev sentences sorted by length and cut into batches (the best case for padding):
// sentences/s at each of ONNX Runtime's graph optimization levels, then one profiled pass at level `all`
// (enableProfiling) summed by operator type.
//
//   node dist/bench/micro/operator-profile.js [--batch-size 16] [--rounds 3]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { buildModelInputs } from '../../workers/model-inputs.js';
import { packBatch } from '../../workers/protocol.js';
import { sessionOptions } from '../../workers/session.js';
import { readSentences } from '../lib/corpus.js';
import { SST2_DEV_TSV, STANDIN_MODEL_DIR } from '../lib/harness.js';
import { fmtPct, fmtRps, mdTable } from '../lib/format.js';
import { COMMON_OPTIONS, COMMON_USAGE, contextLines, endRun, numberFlag, say, startRun, writeResults } from './lib/run-context.js';

const NAME = 'operator-profile';
const LEVELS = ['all', 'extended', 'basic'] as const;

const USAGE = `Usage: node dist/bench/micro/${NAME}.js [options]

  --batch-size N      sentences per model run (default 16)
  --rounds N          passes over the dev set per level; the best counts (default 3)
${COMMON_USAGE}`;

type Feeds = Record<string, ort.Tensor>;
type Level = (typeof LEVELS)[number];

/** A session with the service's options (workers/session.ts) but a chosen optimization level. */
function session(level: Level, profilePrefix?: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx'), {
    ...sessionOptions(1),
    graphOptimizationLevel: level,
    enableProfiling: profilePrefix !== undefined,
    profileFilePrefix: profilePrefix,
  });
}

async function sentencesPerS(s: ort.InferenceSession, batches: Feeds[]): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (const feeds of batches) {
    await s.run(feeds);
    n += feeds.input_ids!.dims[0]!;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Kernel microseconds per operator type from an ONNX Runtime profile (Chrome trace events). */
function kernelTimeByOperator(profilePath: string): Map<string, number> {
  const events = JSON.parse(readFileSync(profilePath, 'utf8')) as { cat: string; name: string; dur: number; args: { op_name?: string } }[];
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.args.op_name === undefined) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur);
  }
  return byOp;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: { 'batch-size': { type: 'string' }, rounds: { type: 'string' }, ...COMMON_OPTIONS },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const cfg = { batchSize: numberFlag('batch-size', values['batch-size'], 16), rounds: numberFlag('rounds', values.rounds, 3) };
  const log = (line: string): void => say(NAME, line);

  const tokenizer = await Tokenizer.fromFile(join(STANDIN_MODEL_DIR, 'tokenizer.json'));
  const ids = (await tokenizer.encodeBatch(readSentences(SST2_DEV_TSV))).map((e) => Int32Array.from(e.getIds()));
  ids.sort((a, b) => a.length - b.length);
  const batches: Feeds[] = [];
  for (let i = 0; i < ids.length; i += cfg.batchSize)
    batches.push(buildModelInputs(packBatch(ids.slice(i, i + cfg.batchSize))).feeds as Feeds);

  const ctx = await startRun(
    NAME,
    argv,
    values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false),
    numberFlag('max-wait', values['max-wait'], 600),
  );
  const rates: Record<Level, number> = { all: 0, extended: 0, basic: 0 };
  for (const level of LEVELS) {
    const s = await session(level);
    await sentencesPerS(s, batches.slice(0, 8));
    for (let round = 0; round < cfg.rounds; round++) rates[level] = Math.max(rates[level], await sentencesPerS(s, batches));
    await s.release();
    log(`${level}: ${fmtRps(rates[level])} sentences/s`);
  }
  // ONNX Runtime names the file itself (prefix + timestamp), so it goes to a directory of its own.
  const profileDir = mkdtempSync(join(tmpdir(), `${NAME}-`));
  const profiled = await session('all', join(profileDir, 'profile'));
  await sentencesPerS(profiled, batches.slice(0, 8));
  await sentencesPerS(profiled, batches);
  profiled.endProfiling();
  await profiled.release();
  endRun(ctx);
  const byOp = kernelTimeByOperator(join(profileDir, readdirSync(profileDir)[0]!));
  rmSync(profileDir, { recursive: true, force: true });
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  const operators = [...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, ms: us / 1000, share: us / total }));

  const markdown = [
    ...contextLines(ctx, 'Where a model run goes: sentences/s by graph optimization level, kernel time by operator (issue 11)'),
    `Stand-in model_quantized.onnx, 1 intra-op thread, the 872 SST-2 dev sentences sorted by length in batches of ${cfg.batchSize}; best of ${cfg.rounds} passes per level.`,
    '',
    ...mdTable(
      ['graphOptimizationLevel', 'sentences/s', 'of `all`'],
      LEVELS.map((level) => [level, fmtRps(rates[level]), fmtPct(rates[level] / rates.all)]),
      1,
    ),
    '',
    '## Kernel time by operator type (level `all`, one profiled pass)',
    '',
    ...mdTable(
      ['operator', 'ms', 'share'],
      operators.map((o) => [o.op, o.ms.toFixed(1), fmtPct(o.share)]),
      1,
    ),
    '',
  ].join('\n');
  const base = await writeResults(ctx, values.out, { settings: cfg, rates, operators }, markdown);
  process.stdout.write('\n' + markdown + '\n');
  log(`wrote ${base}.{json,md}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
