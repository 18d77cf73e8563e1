// `npm run bench:latency`: latency and throughput at every load, in the manner of Triton's perf_analyzer. A sweep
// of closed-loop clients (C = 1, 2, 4, ... by default; one text per request, and 8) sending never-seen SST-2
// sentences to the service in its default configuration, against the same model run directly at the same C: the
// C requests' texts as one padded batch on all threads, or split over one-thread sessions (one per core), whichever
// gives more sentences/s (tokenization excluded: 64 batches of never-seen sentences packed up front, run in turn),
// its latency being that batch's time. The two alternate in
// rounds; the report gives each point's median over the rounds, the ratios, and the latency/throughput curve (SVG).
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { perRowQuantize } from '../../model/per-row-quantization.js';
import { readCgroupCpuLimit, workersForCpuLimit } from '../../src/cpu-limit.js';
import { readSentences, realisticTexts } from '../lib/corpus.js';
import { renderCurves } from '../lib/curve-chart.js';
import { fmtRps, mdTable } from '../lib/format.js';
import { type ManagedProcess, PREDICT_PATH, SST2_DEV_TSV, STANDIN_MODEL_DIR, startService } from '../../test/harness.js';
import { defineBench, envFlags, envLine, listFlag, numberFlag, valueFlags } from '../lib/runner.js';
import { median } from '../lib/stats.js';
import { CeilingPool, type CeilingResult } from './lib/ceiling-pool.js';

/** Texts each direct thread cycles through (its batches are packed once: the model's cost alone). */
const TEXTS_PER_THREAD = 2_000;
/**
 * Batches each direct thread packs up front and runs in turn. One batch run again and again measures one set of
 * lengths: for one text, whichever sentence came first (a short one ran in 5.3 ms, sentences of the corpus's
 * median length in ~7 ms on one thread); 64 give the corpus's mix, as the service's clients send it.
 */
const DISTINCT_BATCHES = 64;

interface Point {
  /** Clients (connections) and texts per request. */
  c: number;
  k: number;
  sentencesPerS: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Where one text's time went (C = 1, one text per request), in ms: the client's mean round trip, and the means
 * of the service's own histograms over the window: its whole answer, the tokenization (with its thread hop), the
 * queue wait and the model run (in the worker); the rest is parsing, lookups, the hops to and from the model
 * thread and the answer's JSON.
 */
interface Breakdown {
  clientMs: number;
  serverMs: number;
  tokenizeMs: number;
  queueMs: number;
  modelMs: number;
  restMs: number;
}

/** The mean (ms) of a histogram family's samples whose labels contain `match`, between two scrapes. */
function meanMs(before: Map<string, number>, after: Map<string, number>, family: string, match = ''): number {
  let sum = 0;
  let count = 0;
  for (const [key, value] of after) {
    if (!key.includes(match)) continue;
    if (key.startsWith(`${family}_sum`)) sum += value - (before.get(key) ?? 0);
    else if (key.startsWith(`${family}_count`)) count += value - (before.get(key) ?? 0);
  }
  return count > 0 ? (sum / count) * 1000 : Number.NaN;
}

interface DirectPoint extends Point {
  /** Which layout gave more sentences/s: `all` (one session on every core) or `split` (one-thread sessions). */
  layout: 'all' | 'split';
}

defineBench({
  name: 'latency',
  title: 'Latency and throughput by concurrency: the service against the model run directly',
  usage: `  --concurrency LIST    closed-loop clients (default 1,2,4,8,16,32)
  --texts LIST          texts per request (default 1,8)
  --duration S          seconds of each measured window (default 6)
  --warmup S            seconds of warm-up before each service window (default 6: the layout changes after 2 s, then loads)
  --rounds N            rounds; each point's median is reported (default 2)
  --seed N              corpus seed (default 1)
  --baseline-js PATH    also measure this build's dist/src/main.js (target baseline), e.g. the commit before a change
  --env KEY=VALUE       a setting of the service(s), e.g. --env INTRA_OP_THREADS=2 (repeatable)`,
  options: {
    ...valueFlags('concurrency', 'texts', 'duration', 'warmup', 'rounds', 'seed', 'baseline-js'),
    env: { type: 'string', multiple: true },
  },
  async run({ values, log, track, measure }) {
    const cfg = {
      concurrency: listFlag('concurrency', values.concurrency, [1, 2, 4, 8, 16, 32]),
      texts: listFlag('texts', values.texts, [1, 8]),
      durationS: numberFlag('duration', values.duration, 6),
      warmupS: numberFlag('warmup', values.warmup, 6),
      rounds: numberFlag('rounds', values.rounds, 2),
      seed: numberFlag('seed', values.seed, 1),
    };
    // The cores the service's default configuration uses (its WORKERS), which the direct run may use too.
    const cores = workersForCpuLimit(readCgroupCpuLimit());
    // WORKERS empty: unset, as in the default configuration (the harness sets 1 otherwise).
    const env = envFlags({ WORKERS: '', LOG_LEVEL: 'warn' }, (values.env as string[] | undefined) ?? []);
    const baselineJs = values['baseline-js'] as string | undefined;
    const services: Record<string, ManagedProcess> = { service: await track(startService(env, { name: 'service' })) };
    if (baselineJs) services.baseline = await track(startService(env, { name: 'baseline', script: baselineJs }));

    const { next, lengthsOf } = await realisticTexts({
      tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
      vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
      sentences: readSentences(SST2_DEV_TSV),
      seed: cfg.seed,
    });
    // The direct run serves the graph the service serves: its default rewrite (PER_ROW_QUANTIZATION).
    const original = join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx');
    const perRow = env.PER_ROW_QUANTIZATION === 'false' ? undefined : perRowQuantize(readFileSync(original));
    const modelPath = perRow ? join(tmpdir(), `latency-bench-${process.pid}.onnx`) : original;
    if (perRow) writeFileSync(modelPath, perRow.bytes);
    const threadTexts = (): string[] => Array.from({ length: TEXTS_PER_THREAD }, next);
    const base = { modelPath, tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'), maxTokens: 512 };
    const pools = {
      // One session on every core runs alone: its threads spin during a run, as the service's wide layout's do.
      all: await CeilingPool.start({ ...base, intraOpThreads: cores, spin: true }, [threadTexts()]),
      split: await CeilingPool.start({ ...base, intraOpThreads: 1 }, Array.from({ length: cores }, threadTexts)),
      single: await CeilingPool.start({ ...base, intraOpThreads: 1 }, [threadTexts()]),
    };
    const medianTokens = median(await lengthsOf(Array.from({ length: 500 }, next)));
    log(`service(s): ${Object.keys(services).join(', ')} (${envLine(env)}); direct: 1 × ${cores} threads, ${cores} × 1 thread`);

    const direct = async (c: number, k: number): Promise<DirectPoint> => {
      const n = c * k;
      const asPoint = (r: CeilingResult, layout: DirectPoint['layout']): DirectPoint => ({
        c,
        k,
        layout,
        sentencesPerS: r.sentencesPerS,
        p50Ms: r.batchP50Ms,
        p99Ms: r.batchP99Ms,
      });
      const all = asPoint(await pools.all.run(n, cfg.durationS / 2, false, 0, DISTINCT_BATCHES), 'all');
      const split =
        n % cores === 0
          ? asPoint(await pools.split.run(n / cores, cfg.durationS / 2, false, 0, DISTINCT_BATCHES), 'split')
          : asPoint(await pools.single.run(n, cfg.durationS / 2, false, 0, DISTINCT_BATCHES), 'split');
      return split.sentencesPerS > all.sentencesPerS ? split : all;
    };
    const served = async (name: string, c: number, k: number): Promise<Point> => {
      const body = (): string => JSON.stringify({ text: Array.from({ length: k }, next) });
      const single = c === 1 && k === 1;
      const { load, before, after } = await measure(
        services[name]!,
        { connections: c, pipelining: 1, warmupS: cfg.warmupS, durationS: cfg.durationS, path: PREDICT_PATH, body },
        single,
      );
      if (load.non2xx > 0 || load.errors > 0) log(`${name} C=${c} k=${k}: ${load.non2xx} non-2xx, ${load.errors} errors`);
      if (single && before && after) {
        const serverMs = meanMs(before, after, 'inf_http_request_duration_seconds', 'route="bulk-predict"');
        const tokenizeMs = meanMs(before, after, 'inf_tokenize_duration_seconds');
        const queueMs = meanMs(before, after, 'inf_queue_wait_seconds');
        const modelMs = meanMs(before, after, 'inf_inference_duration_seconds');
        const restMs = serverMs - tokenizeMs - queueMs - modelMs;
        breakdowns[name]!.push({ clientMs: load.meanMs, serverMs, tokenizeMs, queueMs, modelMs, restMs });
      }
      return { c, k, sentencesPerS: load.okRps * k, p50Ms: load.p50, p99Ms: load.p99 };
    };

    const targets = ['direct', ...Object.keys(services)];
    const runs: Record<string, Point[]> = Object.fromEntries(targets.map((t) => [t, []]));
    const breakdowns: Record<string, Breakdown[]> = Object.fromEntries(Object.keys(services).map((name) => [name, []]));
    try {
      for (let round = 0; round < cfg.rounds; round++) {
        for (const k of cfg.texts) {
          for (const c of cfg.concurrency) {
            // Alternating order, so a drift in the shared machine's load favours no target.
            const order = (round + c) % 2 === 0 ? targets : [...targets].reverse();
            for (const target of order) {
              const point = target === 'direct' ? await direct(c, k) : await served(target, c, k);
              runs[target]!.push(point);
              log(
                `round ${round + 1} ${target} C=${c} k=${k}: ${fmtRps(point.sentencesPerS)} sentences/s, p50 ${point.p50Ms.toFixed(2)} ms`,
              );
            }
          }
        }
      }
    } finally {
      await Promise.all(Object.values(pools).map((pool) => pool.close()));
    }

    const medianPoint = (target: string, c: number, k: number): Point & { layouts?: string } => {
      const points = runs[target]!.filter((p) => p.c === c && p.k === k);
      const layouts = target === 'direct' ? [...new Set((points as DirectPoint[]).map((p) => p.layout))].join('/') : undefined;
      return {
        c,
        k,
        sentencesPerS: median(points.map((p) => p.sentencesPerS)),
        p50Ms: median(points.map((p) => p.p50Ms)),
        p99Ms: median(points.map((p) => p.p99Ms)),
        ...(layouts ? { layouts } : {}),
      };
    };
    const markdown: string[] = [
      `Never-seen SST-2 sentences (median ${medianTokens} tokens), ${cfg.durationS} s windows, median of ${cfg.rounds} rounds. ` +
        `Direct: the C requests' texts as one batch on ${cores} threads (all) or split over ${cores} one-thread sessions (split), whichever is faster; its latency is the batch's time.`,
      '',
    ];
    const summary: object[] = [];
    for (const k of cfg.texts) {
      const rows = cfg.concurrency.map((c) => {
        const d = medianPoint('direct', c, k);
        const cells = [String(c), `${fmtRps(d.sentencesPerS)} (${d.layouts})`, d.p50Ms.toFixed(2), d.p99Ms.toFixed(2)];
        for (const name of Object.keys(services)) {
          const s = medianPoint(name, c, k);
          cells.push(
            fmtRps(s.sentencesPerS),
            s.p50Ms.toFixed(2),
            s.p99Ms.toFixed(2),
            `×${(s.sentencesPerS / d.sentencesPerS).toFixed(3)}`,
            `×${(s.p50Ms / d.p50Ms).toFixed(2)}`,
          );
          summary.push({
            target: name,
            c,
            k,
            service: s,
            direct: d,
            throughputRatio: s.sentencesPerS / d.sentencesPerS,
            p50Ratio: s.p50Ms / d.p50Ms,
          });
        }
        return cells;
      });
      const header = ['C', 'direct sentences/s (layout)', 'direct p50 ms', 'direct p99 ms'];
      for (const name of Object.keys(services))
        header.push(`${name} sentences/s`, `${name} p50 ms`, `${name} p99 ms`, `${name}/direct sentences/s`, `${name}/direct p50`);
      markdown.push(`### ${k} text${k === 1 ? '' : 's'} per request`, '', ...mdTable(header, rows), '');
    }
    if (Object.values(breakdowns).some((b) => b.length > 0)) {
      const stages: [keyof Breakdown, string][] = [
        ['clientMs', "client's round trip (mean)"],
        ['serverMs', 'service: request to answer'],
        ['tokenizeMs', '… tokenization (thread hop included)'],
        ['queueMs', '… queue wait'],
        ['modelMs', '… model run (in the worker)'],
        ['restMs', '… the rest: parsing, lookups, hops to and from the model thread, JSON'],
      ];
      const names = Object.keys(services);
      const rows = stages.map(([key, label]) => [label, ...names.map((name) => median(breakdowns[name]!.map((b) => b[key])).toFixed(2))]);
      markdown.push(
        "### Where a single text's time goes (C = 1, one text per request)",
        '',
        `Means over each window, from the service's own histograms, median of the rounds (ms). The model run directly at C = 1: p50 ${medianPoint('direct', 1, 1).p50Ms.toFixed(2)} ms.`,
        '',
        ...mdTable(['stage', ...names.map((name) => `${name} ms`)], rows),
        '',
      );
    }
    const curves = cfg.texts.flatMap((k) =>
      targets.map((target) => ({
        label: `${target}, ${k} text${k === 1 ? '' : 's'}/request`,
        points: cfg.concurrency.map((c) => {
          const p = medianPoint(target, c, k);
          return { x: p.sentencesPerS, y: p.p50Ms, note: `C=${c}` };
        }),
      })),
    );
    return {
      data: { config: { ...cfg, cores, env }, runs, summary, breakdowns },
      markdown,
      extra: {
        svg: renderCurves({
          title: 'p50 latency against sentences/s, by concurrency',
          xLabel: 'sentences/s',
          yLabel: 'p50 ms (log scale)',
          curves,
        }),
      },
    };
  },
});
