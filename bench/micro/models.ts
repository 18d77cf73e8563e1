// `npm run bench:models` (issue 34, done-when 3): two models in one pod, one flooded past its admission limit by
// clients that send again at once, the other under a steady light load. The steady model's latency is measured
// alone and then during the flood, in one run; the target is that its p99 during the flood stays within its p99
// alone plus one batch run of the flooded model (what a text that arrives while every thread runs one of the
// flood's batches must wait before a thread is its: the dispatcher gives the next free thread to the model that
// has had the least thread time).
//   - repository: `steady` (DEFAULT_MODEL) and `flood`, both the stand-in model (the same files under two names
//     are two models: their own sessions, queue, admission and cost model);
//   - steady load: one never-seen SST-2 sentence every --interval ms to /project/models/steady/bulk-predict;
//   - flood: --flood connections x 32 never-seen sentences to /project/models/flood/bulk-predict, past the flood
//     model's admission: its clients wait the Retry-After of a 503 (bench/lib/backoff-load.ts), or with
//     --ignore-retry-after send again at once (then the refusals themselves load the event loop every model shares);
//   - one batch run: the flood's accepted requests' x-inference-time (the longest model run of the request), median.
import { runBackoffLoad } from '../lib/backoff-load.js';
import { readSentences, seededRandom, uniqueTexts } from '../lib/corpus.js';
import { fmtMs, mdTable } from '../lib/format.js';
import { type PacedLoadResult, runPacedLoad } from '../lib/paced-load.js';
import { SST2_DEV_TSV, startService } from '../../test/harness.js';
import { standInRepository } from '../lib/stand-in-repository.js';
import { defineBench, envFlags, envLine, numberFlag, valueFlags } from '../lib/runner.js';

defineBench({
  name: 'models',
  title: 'Two models in one pod, one flooded: the latency of the other (issue 34)',
  usage: `  --duration S        seconds per measured window (default 15)
  --interval MS       the steady model's load: one new text every MS ms (default 50)
  --flood N           connections flooding the other model, 32 new texts each (default 200)
  --ignore-retry-after  the flood's clients send again at once after a 503 (default: they wait its Retry-After)
  --rounds N          alone / flooded rounds, alternating (default 2)
  --env KEY=VALUE     a setting of the service (repeatable)`,
  options: {
    ...valueFlags('duration', 'interval', 'flood', 'rounds'),
    'ignore-retry-after': { type: 'boolean' },
    env: { type: 'string', multiple: true },
  },
  async run({ values, log, track }) {
    const durationS = numberFlag('duration', values.duration, 15);
    const intervalMs = numberFlag('interval', values.interval, 50);
    const floodConnections = numberFlag('flood', values.flood, 200);
    const ignoreRetryAfter = values['ignore-retry-after'] === true;
    const rounds = numberFlag('rounds', values.rounds, 2);
    const repository = await standInRepository(['steady', 'flood']);
    try {
      const env = envFlags(
        { ...repository.env, WORKERS: '2', CACHE_LRU_ENTRIES: '0', LOG_LEVEL: 'warn' },
        values.env as string[] | undefined,
      );
      const service = await track(startService(env));
      log(`service ${service.url}, ${envLine(env)}`);
      const next = uniqueTexts(readSentences(SST2_DEV_TSV), `models-${Date.now()}`);
      const steady = () =>
        runPacedLoad(service.url, {
          intervalMs,
          durationS,
          path: '/project/models/steady/bulk-predict',
          body: () => JSON.stringify({ text: [next()] }),
        });
      const results: {
        round: number;
        alone: PacedLoadResult;
        flooded: PacedLoadResult;
        batchRunMs: number;
        floodOk: number;
        floodRefused: number;
        floodFailed: number;
      }[] = [];
      for (let round = 1; round <= rounds; round++) {
        const alone = await steady();
        log(`round ${round} alone: p50 ${fmtMs(alone.p50)} p99 ${fmtMs(alone.p99)} (${alone.ok}/${alone.sent})`);
        const warmupS = 3;
        const flood = runBackoffLoad(service.url, {
          connections: floodConnections,
          warmupS,
          durationS,
          path: '/project/models/flood/bulk-predict',
          body: () => JSON.stringify({ text: Array.from({ length: 32 }, next) }),
          random: seededRandom(round),
          ignoreRetryAfter,
        });
        await new Promise((resolve) => setTimeout(resolve, warmupS * 1000));
        const flooded = await steady();
        const f = await flood;
        log(
          `round ${round} flooded: p50 ${fmtMs(flooded.p50)} p99 ${fmtMs(flooded.p99)} (${flooded.ok}/${flooded.sent}); flood ${f.ok} x 200, ${f.refused} x 503, batch run ${fmtMs(f.inferenceP50)}`,
        );
        results.push({ round, alone, flooded, batchRunMs: f.inferenceP50, floodOk: f.ok, floodRefused: f.refused, floodFailed: f.failed });
        // The flood's abandoned texts leave the queue before the next round measures the model alone.
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
      const verdict = (r: (typeof results)[number]) => r.flooded.p99 <= r.alone.p99 + r.batchRunMs;
      return {
        data: { settings: { durationS, intervalMs, floodConnections, ignoreRetryAfter, rounds, env }, results },
        markdown: [
          `Service ${envLine(env)}; the steady model gets one never-seen SST-2 sentence every ${intervalMs} ms; the flood`,
          `${floodConnections} connections × 32 never-seen sentences, ${ignoreRetryAfter ? 'sent again at once after a 503' : 'waiting the Retry-After of a 503'}; ${durationS} s windows.`,
          '',
          ...mdTable(
            [
              'round',
              'steady alone p50 / p99 ms',
              'steady flooded p50 / p99 ms',
              'steady non-200',
              'flood 200 / 503',
              'one batch run ms',
              'flooded p99 ≤ alone p99 + batch run',
            ],
            results.map((r) => [
              String(r.round),
              `${fmtMs(r.alone.p50)} / ${fmtMs(r.alone.p99)}`,
              `${fmtMs(r.flooded.p50)} / ${fmtMs(r.flooded.p99)}`,
              String(r.alone.failed + r.flooded.failed),
              `${r.floodOk} / ${r.floodRefused}`,
              fmtMs(r.batchRunMs),
              `${fmtMs(r.alone.p99 + r.batchRunMs)}: ${verdict(r) ? 'met' : 'missed'}`,
            ]),
            1,
          ),
          '',
          'One batch run: the median x-inference-time of the accepted flood requests (their longest model run).',
        ],
      };
    } finally {
      await repository.remove();
    }
  },
});
