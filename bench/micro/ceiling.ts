// Issue 4: the model's own ceiling against the service's uncached throughput, in one run. The ceiling is
// WORKERS threads in this process, each with its own session (the service's createSession), tokenizing and
// running batches of unique 16-token sentences as the service's worker does; the best batch size is picked
// by a sweep. The service runs with every cache off and gets requests of never-seen texts. Target: the
// service delivers >= 85% of the ceiling's sentences/s, with its p99 latency at that load beside it.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSentences, realisticTexts } from '../lib/corpus.js';
import {
  assertAlive,
  type ManagedProcess,
  modelWork,
  PREDICT_PATH,
  scrapeMetrics,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startService,
} from '../lib/harness.js';
import { CeilingPool, type CeilingResult } from './lib/ceiling-pool.js';
import { fmtCores, fmtMs, fmtPct, fmtRps, mdTable } from '../lib/format.js';
import { problems, runLoad, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import {
  COMMON_OPTIONS,
  COMMON_USAGE,
  MODEL_LOAD_OPTIONS,
  contextLines,
  endRun,
  listFlag,
  modelLoadFlags,
  type ModelLoadFlags,
  numberFlag,
  say,
  startRun,
  writeResults,
  type RunContext,
} from './lib/run-context.js';
import { exactLengthTexts } from './lib/texts.js';

const NAME = 'ceiling';
const TARGET = 0.85;
const TEXTS_PER_THREAD = 4096;

const USAGE = `Usage: node dist/bench/micro/${NAME}.js [options]

  --workers N           threads of the ceiling and WORKERS of the service (default 2)
  --intra-op N          ORT intra-op threads per session, both sides (default 1)
  --batch-sizes LIST    batch sizes the ceiling sweeps (default 8,16,32,64)
  --sweep-duration S    seconds per batch size in the sweep, after 1 s of warm-up (default 4)
  --tokens N            tokens per sentence, [CLS] and [SEP] included (default 16)
  --texts-per-request N unique sentences per HTTP request (default 8)
  --connections N       autocannon connections (default 32)
  --duration S          seconds per measured run, ceiling and HTTP (default 10)
  --warmup S            seconds of HTTP warm-up before each measured HTTP run (default 3; ceiling runs get 1 s)
  --rounds N            rounds; the order of the variants alternates (default 2)
  --max-batch-size N    the service's MAX_BATCH_SIZE (default: the service's default, 32)
  --seed N              seed of the generated sentences (default 1)
  --realistic           SST-2 dev sentences made unique without changing their token counts (one word swapped
                        for another single-token word), instead of --tokens-long texts; the ceiling runs each
                        thread's texts sorted by length (batches of similar lengths, as a length-aware batcher
                        would form them). Issue 11 measures it at --connections 16 --texts-per-request 8.
${COMMON_USAGE}`;

type Variant = 'ceiling' | 'ceilingNoTokenize' | 'ceilingBesideClient' | 'http';

interface HttpRun {
  load: LoadResult;
  sentencesPerS: number;
  /** Texts the model ran per second (from /metrics), a cross-check of the client's count. */
  modelTextsPerS: number;
  meanBatch: number;
}

interface RoundRecord {
  round: number;
  variant: Variant;
  ceiling?: CeilingResult;
  http?: HttpRun;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string' },
      'intra-op': { type: 'string' },
      'batch-sizes': { type: 'string' },
      'sweep-duration': { type: 'string' },
      'max-batch-size': { type: 'string' },
      realistic: { type: 'boolean' },
      ...MODEL_LOAD_OPTIONS,
      ...COMMON_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const cfg = {
    workers: numberFlag('workers', values.workers, 2),
    intraOp: numberFlag('intra-op', values['intra-op'], 1),
    batchSizes: listFlag('batch-sizes', values['batch-sizes'], [8, 16, 32, 64]),
    sweepDurationS: numberFlag('sweep-duration', values['sweep-duration'], 4),
    ...modelLoadFlags(values),
    maxBatchSize: values['max-batch-size'] === undefined ? undefined : numberFlag('max-batch-size', values['max-batch-size'], 32),
  };
  const maxLoad = values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false);
  const log = (line: string): void => say(NAME, line);

  const textSource = {
    tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
    vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
    sentences: readSentences(SST2_DEV_TSV),
    seed: cfg.seed,
  };
  const realistic = values.realistic ? await realisticTexts(textSource) : undefined;
  const nextText = realistic?.next ?? (await exactLengthTexts({ ...textSource, tokens: cfg.tokens }));
  /** A thread's pool of texts for the ceiling: sorted by length in realistic mode, so its batches are. */
  const threadTexts = async (): Promise<string[]> => {
    const texts = Array.from({ length: TEXTS_PER_THREAD }, nextText);
    if (!realistic) return texts;
    const lengths = await realistic.lengthsOf(texts);
    return texts
      .map((text, i) => ({ text, n: lengths[i]! }))
      .sort((a, b) => a.n - b.n)
      .map((x) => x.text);
  };
  const example = nextText();
  const body = (): string => JSON.stringify({ text: Array.from({ length: cfg.textsPerRequest }, nextText) });
  const ctx = await startRun(NAME, argv, maxLoad, numberFlag('max-wait', values['max-wait'], 600));

  const started: ManagedProcess[] = [];
  let pool: CeilingPool | undefined;
  try {
    const serviceEnv: Record<string, string> = {
      WORKERS: String(cfg.workers),
      INTRA_OP_THREADS: String(cfg.intraOp),
      CACHE_LRU_ENTRIES: '0',
      // The ceiling runs model_quantized.onnx as it is; the service must run the same graph (the per-row
      // rewrite's own cost is bench:per-row).
      PER_ROW_QUANTIZATION: 'false',
      ...(cfg.maxBatchSize === undefined ? {} : { MAX_BATCH_SIZE: String(cfg.maxBatchSize) }),
    };
    const service = await startService(serviceEnv, { name: 'service-uncached' });
    started.push(service);
    pool = await CeilingPool.start(
      {
        modelPath: join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx'),
        tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
        intraOpThreads: cfg.intraOp,
        maxTokens: 512,
      },
      await Promise.all(Array.from({ length: cfg.workers }, threadTexts)),
    );
    log(
      `service ${service.url} (${Object.entries(serviceEnv)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}); ceiling: ${cfg.workers} thread(s) × ${cfg.intraOp} intra-op`,
    );

    const sweep: CeilingResult[] = [];
    for (const b of cfg.batchSizes) {
      await pool.run(b, 1, true);
      const r = await pool.run(b, cfg.sweepDurationS, true);
      sweep.push(r);
      log(`sweep B=${b}: ${fmtRps(r.sentencesPerS)} sentences/s, batch p50 ${fmtMs(r.batchP50Ms)} ms, CPU ${fmtCores(r.cpu)}`);
    }
    const best = sweep.reduce((a, b) => (b.sentencesPerS > a.sentencesPerS ? b : a)).batchSize;

    const load = { connections: cfg.connections, pipelining: 1, path: PREDICT_PATH, body, serverPid: service.child.pid };
    // The client's share of the CPU, for the ceiling that leaves it room, from a first warm-up of the service.
    const firstWarmup = await runLoad(service.url, { ...load, warmupS: 1, durationS: cfg.warmupS });
    const clientShare = Math.min(1, firstWarmup.clientCpu);
    log(`best batch size ${best}; HTTP client used ${fmtCores(clientShare)} cores in the first warm-up`);

    const records: RoundRecord[] = [];
    const variants: Variant[] = ['ceiling', 'ceilingNoTokenize', 'ceilingBesideClient', 'http'];
    for (let round = 0; round < cfg.rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        if (variant === 'http') {
          let before: Promise<Map<string, number>> | undefined;
          let after: Promise<Map<string, number>> | undefined;
          const measured = await runLoad(service.url, {
            ...load,
            warmupS: cfg.warmupS,
            durationS: cfg.durationS,
            onWindow: (edge) => {
              if (edge === 'start') before = scrapeMetrics(service.url);
              else after = scrapeMetrics(service.url);
            },
          });
          assertAlive(service, 'the HTTP run');
          const work = modelWork(await before!, await after!);
          const http: HttpRun = {
            load: measured,
            sentencesPerS: (measured.ok * cfg.textsPerRequest) / measured.durationS,
            modelTextsPerS: work.texts / measured.durationS,
            meanBatch: work.meanBatch,
          };
          records.push({ round, variant, http });
          log(
            `round ${round + 1} http: ${fmtRps(http.sentencesPerS)} sentences/s (${fmtRps(measured.okRps)} req/s), p50 ${fmtMs(measured.p50)} ms, ` +
              `p99 ${fmtMs(measured.p99)} ms, mean batch ${http.meanBatch.toFixed(1)}, CPU server ${fmtCores(measured.serverCpu)} client ${fmtCores(measured.clientCpu)}` +
              (problems(measured) ? `, ${problems(measured).toUpperCase()}` : ''),
          );
        } else {
          const tokenize = variant !== 'ceilingNoTokenize';
          const share = variant === 'ceilingBesideClient' ? clientShare : 0;
          await pool.run(best, 1, tokenize, share);
          const ceiling = await pool.run(best, cfg.durationS, tokenize, share);
          records.push({ round, variant, ceiling });
          log(
            `round ${round + 1} ${variant}: ${fmtRps(ceiling.sentencesPerS)} sentences/s, batch p50 ${fmtMs(ceiling.batchP50Ms)} ms, CPU ${fmtCores(ceiling.cpu)}`,
          );
        }
      }
    }
    endRun(ctx);

    const summary = summarize(records);
    const markdown = render(ctx, { ...cfg, realistic: realistic !== undefined }, example, best, clientShare, sweep, summary, records);
    const base = await writeResults(
      ctx,
      values.out,
      { settings: { ...cfg, serviceEnv, exampleText: example }, best, clientShare, sweep, summary, records },
      markdown,
    );
    process.stdout.write('\n' + markdown + '\n');
    log(`wrote ${base}.{json,md}`);
  } finally {
    await pool?.close();
    await Promise.all(started.reverse().map((p) => p.stop()));
  }
}

interface Summary {
  ceiling: number;
  ceilingNoTokenize: number;
  ceilingBesideClient: number;
  ceilingCpu: number;
  http: number;
  httpRps: number;
  p50: number;
  p99: number;
  meanBatch: number;
  serverCpu: number;
  clientCpu: number;
  modelTextsPerS: number;
  failedRuns: number;
}

function summarize(records: readonly RoundRecord[]): Summary {
  const ceilings = (v: Variant): CeilingResult[] => records.filter((r) => r.variant === v).map((r) => r.ceiling!);
  const https = records.filter((r) => r.variant === 'http').map((r) => r.http!);
  return {
    ceiling: median(ceilings('ceiling').map((c) => c.sentencesPerS)),
    ceilingNoTokenize: median(ceilings('ceilingNoTokenize').map((c) => c.sentencesPerS)),
    ceilingBesideClient: median(ceilings('ceilingBesideClient').map((c) => c.sentencesPerS)),
    ceilingCpu: median(ceilings('ceiling').map((c) => c.cpu)),
    http: median(https.map((h) => h.sentencesPerS)),
    httpRps: median(https.map((h) => h.load.okRps)),
    p50: median(https.map((h) => h.load.p50)),
    p99: median(https.map((h) => h.load.p99)),
    meanBatch: median(https.map((h) => h.meanBatch)),
    serverCpu: median(https.map((h) => h.load.serverCpu ?? Number.NaN)),
    clientCpu: median(https.map((h) => h.load.clientCpu)),
    modelTextsPerS: median(https.map((h) => h.modelTextsPerS)),
    failedRuns: https.filter((h) => problems(h.load) !== '').length,
  };
}

function render(
  ctx: RunContext,
  cfg: Omit<ModelLoadFlags, 'seed'> & {
    realistic: boolean;
    workers: number;
    intraOp: number;
    sweepDurationS: number;
    maxBatchSize: number | undefined;
  },
  example: string,
  best: number,
  clientShare: number,
  sweep: readonly CeilingResult[],
  s: Summary,
  records: readonly RoundRecord[],
): string {
  const verdict = (ratio: number): string => (ratio >= TARGET ? 'met' : 'MISSED');
  const serviceMaxBatch = cfg.maxBatchSize ?? 32;
  const atServiceBatch = sweep.find((r) => r.batchSize === serviceMaxBatch);
  const rows = [
    [
      `ceiling: ${cfg.workers} × ORT session, B=${best}, tokenization included`,
      fmtRps(s.ceiling),
      '-',
      '-',
      fmtCores(s.ceilingCpu),
      fmtPct(s.http / s.ceiling),
      verdict(s.http / s.ceiling),
    ],
    [
      `ceiling beside a simulated client (${fmtCores(clientShare)} of a core kept busy)`,
      fmtRps(s.ceilingBesideClient),
      '-',
      '-',
      '-',
      fmtPct(s.http / s.ceilingBesideClient),
      verdict(s.http / s.ceilingBesideClient),
    ],
    [
      `ceiling without tokenization (one packed batch, run again and again)`,
      fmtRps(s.ceilingNoTokenize),
      '-',
      '-',
      '-',
      fmtPct(s.http / s.ceilingNoTokenize),
      '-',
    ],
    [
      `service over HTTP: ${cfg.textsPerRequest} unique texts/request, ${cfg.connections} connections`,
      fmtRps(s.http),
      fmtMs(s.p50),
      fmtMs(s.p99),
      `${fmtCores(s.serverCpu)} + client ${fmtCores(s.clientCpu)}`,
      '100%',
      '',
    ],
  ];
  const sweepRows = sweep.map((r) => [
    String(r.batchSize),
    fmtRps(r.sentencesPerS),
    fmtMs(r.batchP50Ms),
    fmtMs(r.batchP99Ms),
    fmtCores(r.cpu),
    r.batchSize === best ? 'best' : '',
  ]);
  const roundRows = records.map((r) =>
    r.http
      ? [
          String(r.round + 1),
          'http',
          fmtRps(r.http.sentencesPerS),
          fmtMs(r.http.load.p50),
          fmtMs(r.http.load.p99),
          r.http.meanBatch.toFixed(1),
          `${fmtCores(r.http.load.serverCpu)} + ${fmtCores(r.http.load.clientCpu)}`,
          problems(r.http.load) || 'none',
        ]
      : [
          String(r.round + 1),
          r.variant,
          fmtRps(r.ceiling!.sentencesPerS),
          fmtMs(r.ceiling!.batchP50Ms),
          fmtMs(r.ceiling!.batchP99Ms),
          String(r.ceiling!.batchSize),
          fmtCores(r.ceiling!.cpu),
          '',
        ],
  );
  return [
    ...contextLines(ctx, "Uncached throughput vs the model's ceiling (issue 4)"),
    ...mdTable(
      ['Setting', 'Value'],
      [
        [
          'sentences',
          cfg.realistic
            ? `SST-2 dev sentences, each made unique by swapping one whole word for another single-token word (token counts unchanged: mean 25, max 55); the ceiling's per-thread pools are sorted by length; e.g. \`${example}\``
            : `${cfg.tokens} tokens each ([CLS] and [SEP] included): SST-2 dev sentences completed with random vocabulary words, all distinct; e.g. \`${example}\``,
        ],
        [
          'ceiling',
          `${cfg.workers} worker_threads in the bench process, each: ExactTokenizer (as the service's tokenizer threads, truncation 512) + buildModelInputs (as its model workers) + createSession(model_quantized.onnx, intra-op ${cfg.intraOp}).run, in a loop; sweep ${sweep.map((r) => r.batchSize).join('/')} (${cfg.sweepDurationS} s each after 1 s), then ${cfg.durationS} s per measured run after 1 s`,
        ],
        [
          'service',
          `dist/src/main.js WORKERS=${cfg.workers} INTRA_OP_THREADS=${cfg.intraOp} CACHE_LRU_ENTRIES=0, no REDIS_URL${cfg.maxBatchSize === undefined ? ' (MAX_BATCH_SIZE default 32)' : ` MAX_BATCH_SIZE=${cfg.maxBatchSize}`}, metrics on, LOG_LEVEL=warn`,
        ],
        [
          'HTTP load',
          `autocannon in the bench process, ${cfg.connections} connections, pipelining 1, ${cfg.textsPerRequest} never-seen texts per request (no Content-Type header); each run is ${cfg.warmupS} s of warm-up then a ${cfg.durationS} s measured window on the same connections`,
        ],
        ['rounds', `${cfg.rounds}; order ceiling, without tokenization, beside client, HTTP, then reversed; medians reported`],
      ],
      2,
    ),
    '',
    `## Sentences per second (target: the service >= ${fmtPct(TARGET)} of the ceiling)`,
    '',
    ...mdTable(['Variant', 'sentences/s', 'p50 ms', 'p99 ms', 'CPU (cores)', 'service / this', `>= ${fmtPct(TARGET)}`], rows, 1),
    '',
    `The service's sentences/s = 2xx answers × ${cfg.textsPerRequest} / seconds (${fmtRps(s.httpRps)} req/s); the model ran ${fmtRps(s.modelTextsPerS)} texts/s by its /metrics.`,
    `Mean batch size (inf_batch_size sum/count over the measured runs): ${s.meanBatch.toFixed(1)}.` +
      (s.failedRuns > 0 ? ` ${s.failedRuns} HTTP run(s) had failures: see below.` : ''),
    ...(atServiceBatch && atServiceBatch.batchSize !== best
      ? [
          `The service batches at most ${serviceMaxBatch} texts; the sweep's ceiling at B=${serviceMaxBatch} was ${fmtRps(atServiceBatch.sentencesPerS)} sentences/s (service / that: ${fmtPct(s.http / atServiceBatch.sentencesPerS)}; shorter sweep runs, so noisier).`,
        ]
      : []),
    `The load generator shares the ${ctx.machine.cpus} cores: it used ${fmtCores(s.clientCpu)} cores during the HTTP runs, while the ceiling`,
    `had the machine to itself. "Beside a simulated client" runs the ceiling next to a thread that keeps that share of a core busy.`,
    '',
    '## Batch-size sweep (ceiling, tokenization included)',
    '',
    ...mdTable(['B', 'sentences/s', 'batch p50 ms', 'batch p99 ms', 'CPU (cores)', ''], sweepRows, 0),
    '',
    '## Every measured run',
    '',
    ...mdTable(
      ['Round', 'Variant', 'sentences/s', 'p50 ms (HTTP) / batch p50', 'p99 ms (HTTP) / batch p99', 'mean batch / B', 'CPU', 'problems'],
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
