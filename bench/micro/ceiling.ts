// `npm run bench:ceiling` (issues 4 and 11): the model's own ceiling against the service's uncached throughput,
// in one run. The ceiling is WORKERS threads in this process, each with its own session (the service's
// createSession), tokenizing and running batches as the service's workers do, at the best batch size of a sweep.
// The service runs with every cache off and gets requests of never-seen texts. Target: the service delivers
// >= 85% of the ceiling's sentences/s, with its p99 at that load beside it.
import { join } from 'node:path';
import { readSentences, realisticTexts } from '../lib/corpus.js';
import { fmtCores, fmtMs, fmtPct, fmtRps, mdTable } from '../lib/format.js';
import { PREDICT_PATH, SST2_DEV_TSV, STANDIN_MODEL_DIR, startService } from '../../test/harness.js';
import { modelWork } from '../../test/metrics-scrape.js';
import { problems, runLoad } from '../lib/load.js';
import { defineBench, valueFlags, envLine, listFlag, numberFlag } from '../lib/runner.js';
import { median } from '../lib/stats.js';
import { CeilingPool, type CeilingResult } from './lib/ceiling-pool.js';
import { exactLengthTexts } from './lib/texts.js';

const TARGET = 0.85;
const TEXTS_PER_THREAD = 4096;
const VARIANTS = ['ceiling', 'ceilingNoTokenize', 'ceilingBesideClient', 'http', 'httpBaseline'] as const;
type Variant = (typeof VARIANTS)[number];
const LABELS: Record<Variant, string> = {
  ceiling: 'ceiling: the model run directly, tokenization included',
  ceilingBesideClient: 'ceiling beside a simulated client (a thread burns the HTTP client’s CPU share)',
  ceilingNoTokenize: 'ceiling without tokenization (one packed batch, run again and again)',
  http: 'service over HTTP',
  httpBaseline: 'baseline build over HTTP (--baseline-js)',
};

interface RunRecord {
  round: number;
  variant: Variant;
  sentencesPerS: number;
  p50: number;
  p99: number;
  cpu: string;
  meanBatch?: number;
  problems?: string;
}

defineBench({
  name: 'ceiling',
  title: "Uncached throughput vs the model's ceiling (issues 4 and 11)",
  usage: `  --workers N           threads of the ceiling and WORKERS of the service (default 2)
  --intra-op N          ORT intra-op threads per session, both sides (default: the ceiling 1, the service
                        INTRA_OP_THREADS unset, its default layout)
  --baseline-js PATH    also measure this build's dist/src/main.js over HTTP, alternating (e.g. the commit before a change)
  --batch-sizes LIST    batch sizes the ceiling sweeps (default 8,16,32,64)
  --sweep-duration S    seconds per batch size in the sweep, after 1 s of warm-up (default 4)
  --tokens N            tokens per text, [CLS] and [SEP] included (default 16)
  --texts-per-request N never-seen texts per HTTP request (default 8)
  --connections N       autocannon connections (default 32)
  --duration S          seconds per measured run, ceiling and HTTP (default 10)
  --warmup S            seconds of HTTP warm-up before each measured HTTP run (default 3; ceiling runs get 1 s)
  --rounds N            rounds; the order of the variants alternates (default 2)
  --max-batch-size N    the service's MAX_BATCH_SIZE (default: the service's default, 32)
  --seed N              seed of the generated texts (default 1)
  --realistic           SST-2 dev sentences made unique without changing their token counts (one word swapped),
                        instead of --tokens-long texts; the ceiling runs each thread's texts sorted by length`,
  options: {
    ...valueFlags(
      'workers',
      'intra-op',
      'batch-sizes',
      'sweep-duration',
      'tokens',
      'texts-per-request',
      'connections',
      'duration',
      'warmup',
      'rounds',
      'max-batch-size',
      'seed',
      'baseline-js',
    ),
    realistic: { type: 'boolean' },
  },
  async run({ values, log, track, measure }) {
    const cfg = {
      workers: numberFlag('workers', values.workers, 2),
      intraOp: numberFlag('intra-op', values['intra-op'], 1),
      batchSizes: listFlag('batch-sizes', values['batch-sizes'], [8, 16, 32, 64]),
      sweepDurationS: numberFlag('sweep-duration', values['sweep-duration'], 4),
      tokens: numberFlag('tokens', values.tokens, 16),
      textsPerRequest: numberFlag('texts-per-request', values['texts-per-request'], 8),
      connections: numberFlag('connections', values.connections, 32),
      durationS: numberFlag('duration', values.duration, 10),
      warmupS: numberFlag('warmup', values.warmup, 3),
      rounds: numberFlag('rounds', values.rounds, 2),
      maxBatchSize: numberFlag('max-batch-size', values['max-batch-size'], 32),
      seed: numberFlag('seed', values.seed, 1),
      realistic: values.realistic === true,
    };
    const textSource = {
      tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
      vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
      sentences: readSentences(SST2_DEV_TSV),
      seed: cfg.seed,
    };
    const realistic = cfg.realistic ? await realisticTexts(textSource) : undefined;
    const nextText = realistic?.next ?? (await exactLengthTexts({ ...textSource, tokens: cfg.tokens }));
    /** A thread's texts for the ceiling: sorted by length in realistic mode, as a length-aware batcher would. */
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

    const serviceEnv = {
      WORKERS: String(cfg.workers),
      ...(values['intra-op'] === undefined ? {} : { INTRA_OP_THREADS: String(cfg.intraOp) }),
      CACHE_LRU_ENTRIES: '0',
      MAX_BATCH_SIZE: String(cfg.maxBatchSize),
      LOG_LEVEL: 'warn',
      // The ceiling runs model_quantized.onnx as it is; the service must run the same graph.
      PER_ROW_QUANTIZATION: 'false',
    };
    const service = await track(startService(serviceEnv, { name: 'service-uncached' }));
    const baselineJs = values['baseline-js'] as string | undefined;
    const baseline = baselineJs ? await track(startService(serviceEnv, { name: 'baseline-uncached', script: baselineJs })) : undefined;
    const variants = VARIANTS.filter((v) => v !== 'httpBaseline' || baseline);
    const pool = await CeilingPool.start(
      {
        modelPath: join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx'),
        tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
        intraOpThreads: cfg.intraOp,
        maxTokens: 512,
      },
      await Promise.all(Array.from({ length: cfg.workers }, threadTexts)),
    );
    try {
      log(`service ${service.url} (${envLine(serviceEnv)}); ceiling: ${cfg.workers} thread(s) × ${cfg.intraOp} intra-op`);
      const sweep: CeilingResult[] = [];
      for (const b of cfg.batchSizes) {
        await pool.run(b, 1, true);
        sweep.push(await pool.run(b, cfg.sweepDurationS, true));
        log(`sweep B=${b}: ${fmtRps(sweep.at(-1)!.sentencesPerS)} sentences/s`);
      }
      const best = sweep.reduce((a, b) => (b.sentencesPerS > a.sentencesPerS ? b : a)).batchSize;
      const load = { connections: cfg.connections, pipelining: 1, path: PREDICT_PATH, body };
      // The client's share of the CPU, for the ceiling that leaves it room, from a first warm-up of the service.
      const clientShare = Math.min(1, (await runLoad(service.url, { ...load, warmupS: 1, durationS: cfg.warmupS })).clientCpu);
      log(`best batch size ${best}; the HTTP client used ${fmtCores(clientShare)} cores in the first warm-up`);

      const records: RunRecord[] = [];
      for (let round = 0; round < cfg.rounds; round++) {
        for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
          if (variant === 'http' || variant === 'httpBaseline') {
            const target = variant === 'http' ? service : baseline!;
            const { load: m, before, after } = await measure(target, { ...load, warmupS: cfg.warmupS, durationS: cfg.durationS });
            const cpu = `${fmtCores(m.serverCpu)} + client ${fmtCores(m.clientCpu)}`;
            const meanBatch = modelWork(before!, after!).meanBatch;
            const sentencesPerS = (m.ok * cfg.textsPerRequest) / m.durationS;
            records.push({ round, variant, sentencesPerS, p50: m.p50, p99: m.p99, cpu, meanBatch, problems: problems(m) });
          } else {
            const tokenize = variant !== 'ceilingNoTokenize';
            const share = variant === 'ceilingBesideClient' ? clientShare : 0;
            await pool.run(best, 1, tokenize, share);
            const c = await pool.run(best, cfg.durationS, tokenize, share);
            records.push({ round, variant, sentencesPerS: c.sentencesPerS, p50: c.batchP50Ms, p99: c.batchP99Ms, cpu: fmtCores(c.cpu) });
          }
          log(`round ${round + 1} ${variant}: ${fmtRps(records.at(-1)!.sentencesPerS)} sentences/s`);
        }
      }

      const med = (v: Variant, k: 'sentencesPerS' | 'p50' | 'p99' | 'meanBatch'): number =>
        median(records.filter((r) => r.variant === v).map((r) => r[k] ?? Number.NaN));
      const http = med('http', 'sentencesPerS');
      const atServiceBatch = sweep.find((r) => r.batchSize === cfg.maxBatchSize);
      const texts = cfg.realistic
        ? 'SST-2 dev sentences, each made unique by swapping one word for another single-token word (token counts unchanged); the ceiling’s per-thread texts sorted by length'
        : `${cfg.tokens}-token texts ([CLS] and [SEP] included), SST-2 dev sentences completed with random vocabulary words, all distinct`;
      return {
        data: { settings: { ...cfg, serviceEnv, baselineJs, exampleText: example }, best, clientShare, sweep, records },
        markdown: [
          `Texts: ${texts}; e.g. \`${example}\`. Service: dist/src/main.js ${envLine(serviceEnv)}; autocannon, ${cfg.connections}`,
          `connections × ${cfg.textsPerRequest} texts per request, ${cfg.warmupS} s warm-up then a ${cfg.durationS} s window. Ceiling: ${cfg.workers} threads in the`,
          `bench process (ExactTokenizer + buildModelInputs + createSession.run, as the service's threads), B=${best}, the best`,
          `of the sweep. ${cfg.rounds} rounds, order alternating; medians.`,
          '',
          `## Sentences per second (target: the service >= ${fmtPct(TARGET)} of the ceiling)`,
          '',
          ...mdTable(
            ['Variant', 'sentences/s', 'p50 ms (HTTP) / batch p50', 'p99 ms (HTTP) / batch p99', 'service / this', `>= ${fmtPct(TARGET)}`],
            variants.map((v) => [
              LABELS[v],
              fmtRps(med(v, 'sentencesPerS')),
              fmtMs(med(v, 'p50')),
              fmtMs(med(v, 'p99')),
              v === 'http' ? '' : fmtPct(http / med(v, 'sentencesPerS')),
              v === 'http' || v === 'ceilingNoTokenize' || v === 'httpBaseline'
                ? ''
                : http / med(v, 'sentencesPerS') >= TARGET
                  ? 'met'
                  : 'MISSED',
            ]),
            1,
          ),
          '',
          `Mean batch size of the service (inf_batch_size): ${med('http', 'meanBatch').toFixed(1)}.` +
            (atServiceBatch && atServiceBatch.batchSize !== best
              ? ` The service batches at most ${cfg.maxBatchSize} texts; the sweep's ceiling at B=${cfg.maxBatchSize}: ${fmtRps(atServiceBatch.sentencesPerS)} (service / that: ${fmtPct(http / atServiceBatch.sentencesPerS)}).`
              : ''),
          '',
          '## Batch-size sweep (ceiling, tokenization included)',
          '',
          ...mdTable(
            ['B', 'sentences/s', 'batch p50 ms', 'batch p99 ms', 'CPU (cores)'],
            sweep.map((r) => [String(r.batchSize), fmtRps(r.sentencesPerS), fmtMs(r.batchP50Ms), fmtMs(r.batchP99Ms), fmtCores(r.cpu)]),
            0,
          ),
          '',
          '## Every measured run',
          '',
          ...mdTable(
            ['Round', 'Variant', 'sentences/s', 'p50 ms', 'p99 ms', 'CPU (cores)', 'mean batch', 'problems'],
            records.map((r) => [
              String(r.round + 1),
              r.variant,
              fmtRps(r.sentencesPerS),
              fmtMs(r.p50),
              fmtMs(r.p99),
              r.cpu,
              r.meanBatch?.toFixed(1) ?? '',
              r.problems ?? '',
            ]),
            2,
          ),
        ],
      };
    } finally {
      await pool.close();
    }
  },
});
