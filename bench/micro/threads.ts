// Issue 4: WORKERS × INTRA_OP_THREADS within the CPU limit, measured both ways in one run. Fewer workers with
// more intra-op threads should make one request alone faster (its batch is split over the cores); more
// workers with one thread each should carry more load (no synchronisation inside a run). Both configurations
// run side by side (an idle service does not spin), and the order alternates per round.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSentences } from '../lib/corpus.js';
import {
  assertAlive,
  type ManagedProcess,
  modelWork,
  PREDICT_PATH,
  scrapeMetrics,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startAll,
  startService,
} from '../lib/harness.js';
import { fmtCores, fmtMs, fmtRatio, fmtRps, mdTable } from '../lib/format.js';
import { problems, runLoad, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import {
  COMMON_OPTIONS,
  COMMON_USAGE,
  MODEL_LOAD_OPTIONS,
  contextLines,
  endRun,
  modelLoadFlags,
  type ModelLoadFlags,
  numberFlag,
  say,
  startRun,
  writeResults,
  type RunContext,
} from './lib/run-context.js';
import { sequentialRequests, type SequentialResult } from './lib/sequential.js';
import { exactLengthTexts } from './lib/texts.js';

const NAME = 'threads';

const USAGE = `Usage: node dist/bench/micro/${NAME}.js [options]

  --configs LIST        WORKERSxINTRA_OP_THREADS pairs (default 1x2,2x1)
  --sequential N        one-text requests sent one at a time (default 200, after 20 of warm-up)
  --long N              long one-text requests sent one at a time (default 50, after 5 of warm-up)
  --long-tokens N       tokens of a long text (default 256)
  --tokens N            tokens of a short text (default 16)
  --texts-per-request N unique texts per request under load (default 8)
  --connections N       autocannon connections under load (default 32)
  --duration S          measured seconds under load (default 10)
  --warmup S            warm-up seconds under load, same connections (default 3)
  --rounds N            rounds; the order of the configurations alternates (default 2)
  --seed N              seed of the generated texts (default 1)
${COMMON_USAGE}`;

interface Config {
  workers: number;
  intraOp: number;
  label: string;
}

interface RoundRecord {
  round: number;
  config: string;
  short: SequentialResult;
  long: SequentialResult;
  load: LoadResult;
  sentencesPerS: number;
  meanBatch: number;
}

function parseConfigs(raw: string | undefined): Config[] {
  return (raw ?? '1x2,2x1').split(',').map((pair) => {
    const m = /^(\d+)x(\d+)$/.exec(pair.trim());
    if (!m) throw new Error(`--configs: "${pair}" is not WORKERSxINTRA_OP_THREADS`);
    return { workers: Number(m[1]), intraOp: Number(m[2]), label: `${m[1]} worker(s) × ${m[2]} intra-op` };
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      configs: { type: 'string' },
      sequential: { type: 'string' },
      long: { type: 'string' },
      'long-tokens': { type: 'string' },
      ...MODEL_LOAD_OPTIONS,
      ...COMMON_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const configs = parseConfigs(values.configs);
  const cfg = {
    sequential: numberFlag('sequential', values.sequential, 200),
    long: numberFlag('long', values.long, 50),
    longTokens: numberFlag('long-tokens', values['long-tokens'], 256),
    ...modelLoadFlags(values),
  };
  const maxLoad = values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false);
  const log = (line: string): void => say(NAME, line);

  const textOptions = {
    tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
    vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
    sentences: readSentences(SST2_DEV_TSV),
  };
  const shortText = await exactLengthTexts({ ...textOptions, tokens: cfg.tokens, seed: cfg.seed });
  const longText = await exactLengthTexts({ ...textOptions, tokens: cfg.longTokens, seed: cfg.seed + 1 });
  const one = (next: () => string) => (): string => JSON.stringify({ text: [next()] });
  const many = (): string => JSON.stringify({ text: Array.from({ length: cfg.textsPerRequest }, shortText) });
  const ctx = await startRun(NAME, argv, maxLoad, numberFlag('max-wait', values['max-wait'], 600));

  const started: ManagedProcess[] = [];
  try {
    // Every cache off: each text is new anyway, and no lookup sits in the measured path.
    const services = await startAll(
      configs.map(
        (c) => () =>
          startService(
            {
              WORKERS: String(c.workers),
              INTRA_OP_THREADS: String(c.intraOp),
              CACHE_LRU_ENTRIES: '0',
            },
            { name: `service-${c.workers}x${c.intraOp}` },
          ),
      ),
      started,
    );
    log(configs.map((c, i) => `${c.label} on ${services[i]!.url}`).join('; '));

    const records: RoundRecord[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      const order = configs.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const config = configs[i]!;
        const service = services[i]!;
        const short = await sequentialRequests(service.url, one(shortText), cfg.sequential, 20);
        const long = await sequentialRequests(service.url, one(longText), cfg.long, 5);
        let before: Promise<Map<string, number>> | undefined;
        let after: Promise<Map<string, number>> | undefined;
        const load = await runLoad(service.url, {
          connections: cfg.connections,
          pipelining: 1,
          warmupS: cfg.warmupS,
          durationS: cfg.durationS,
          path: PREDICT_PATH,
          body: many,
          serverPid: service.child.pid,
          onWindow: (edge) => {
            if (edge === 'start') before = scrapeMetrics(service.url);
            else after = scrapeMetrics(service.url);
          },
        });
        assertAlive(service, `round ${round + 1}`);
        const work = modelWork(await before!, await after!);
        const record: RoundRecord = {
          round,
          config: config.label,
          short,
          long,
          load,
          sentencesPerS: (load.ok * cfg.textsPerRequest) / load.durationS,
          meanBatch: work.meanBatch,
        };
        records.push(record);
        log(
          `round ${round + 1} ${config.label}: alone ${cfg.tokens} tokens p50 ${fmtMs(short.clientP50)} ms, ${cfg.longTokens} tokens p50 ${fmtMs(long.clientP50)} ms; ` +
            `load ${fmtRps(record.sentencesPerS)} sentences/s p99 ${fmtMs(load.p99)} ms, CPU server ${fmtCores(load.serverCpu)} client ${fmtCores(load.clientCpu)}` +
            (problems(load) ? `, ${problems(load).toUpperCase()}` : ''),
        );
      }
    }
    endRun(ctx);

    const markdown = render(ctx, cfg, configs, records);
    const base = await writeResults(ctx, values.out, { settings: { ...cfg, configs }, records }, markdown);
    process.stdout.write('\n' + markdown + '\n');
    log(`wrote ${base}.{json,md}`);
  } finally {
    await Promise.all(started.reverse().map((p) => p.stop()));
  }
}

function render(
  ctx: RunContext,
  cfg: Omit<ModelLoadFlags, 'seed'> & {
    sequential: number;
    long: number;
    longTokens: number;
  },
  configs: readonly Config[],
  records: readonly RoundRecord[],
): string {
  const of = (c: Config, pick: (r: RoundRecord) => number): number => median(records.filter((r) => r.config === c.label).map(pick));
  const metrics: [string, (r: RoundRecord) => number, (v: number) => string][] = [
    [`alone, ${cfg.tokens} tokens: client p50 ms`, (r) => r.short.clientP50, fmtMs],
    [`alone, ${cfg.tokens} tokens: client p99 ms`, (r) => r.short.clientP99, fmtMs],
    [`alone, ${cfg.tokens} tokens: x-inference-time p50 ms`, (r) => r.short.inferenceP50, fmtMs],
    [`alone, ${cfg.longTokens} tokens: client p50 ms`, (r) => r.long.clientP50, fmtMs],
    [`alone, ${cfg.longTokens} tokens: client p99 ms`, (r) => r.long.clientP99, fmtMs],
    [`alone, ${cfg.longTokens} tokens: x-inference-time p50 ms`, (r) => r.long.inferenceP50, fmtMs],
    ['under load: sentences/s', (r) => r.sentencesPerS, fmtRps],
    ['under load: p50 ms', (r) => r.load.p50, fmtMs],
    ['under load: p99 ms', (r) => r.load.p99, fmtMs],
    ['under load: mean batch size', (r) => r.meanBatch, (v) => v.toFixed(1)],
    ['under load: server CPU (cores)', (r) => r.load.serverCpu ?? Number.NaN, fmtCores],
    ['under load: client CPU (cores)', (r) => r.load.clientCpu, fmtCores],
  ];
  const [a, b] = configs;
  const header = [
    'Measure',
    ...configs.map((c) => c.label),
    ...(a && b && configs.length === 2 ? [`${b.workers}×${b.intraOp} / ${a.workers}×${a.intraOp}`] : []),
  ];
  const rows = metrics.map(([label, pick, fmt]) => [
    label,
    ...configs.map((c) => fmt(of(c, pick))),
    ...(a && b && configs.length === 2 ? [fmtRatio(of(b, pick) / of(a, pick))] : []),
  ]);
  const roundRows = records.map((r) => [
    String(r.round + 1),
    r.config,
    fmtMs(r.short.clientP50),
    fmtMs(r.short.clientP99),
    fmtMs(r.long.clientP50),
    fmtMs(r.long.clientP99),
    fmtRps(r.sentencesPerS),
    fmtMs(r.load.p99),
    problems(r.load) || 'none',
  ]);
  return [
    ...contextLines(ctx, 'Workers × intra-op threads: latency alone vs throughput under load (issue 4)'),
    ...mdTable(
      ['Setting', 'Value'],
      [
        [
          'configurations',
          configs.map((c) => `WORKERS=${c.workers} INTRA_OP_THREADS=${c.intraOp}`).join(' vs ') +
            ', each with CACHE_LRU_ENTRIES=0, no REDIS_URL, LOG_LEVEL=warn; both run side by side, measured in turns',
        ],
        [
          'alone',
          `${cfg.sequential} requests of one never-seen ${cfg.tokens}-token text, then ${cfg.long} of one ${cfg.longTokens}-token text, each sent after the previous answer on one keep-alive connection (after 20 and 5 of warm-up)`,
        ],
        [
          'under load',
          `autocannon ${cfg.connections} connections, pipelining 1, ${cfg.textsPerRequest} never-seen ${cfg.tokens}-token texts per request; ${cfg.warmupS} s warm-up then a ${cfg.durationS} s measured window`,
        ],
        ['rounds', `${cfg.rounds}, order of the configurations alternating; medians reported`],
      ],
      2,
    ),
    '',
    '## Medians over rounds',
    '',
    ...mdTable(header, rows, 1),
    '',
    "Client latency includes HTTP; x-inference-time is the batch's run in the worker (tokenization + ONNX Runtime).",
    'A ratio below 1 is better for latency, above 1 better for sentences/s.',
    '',
    '## Every round',
    '',
    ...mdTable(
      [
        'Round',
        'Configuration',
        `${cfg.tokens} tok p50`,
        `${cfg.tokens} tok p99`,
        `${cfg.longTokens} tok p50`,
        `${cfg.longTokens} tok p99`,
        'sentences/s',
        'load p99',
        'problems',
      ],
      roundRows,
      2,
    ),
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`[${NAME}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
