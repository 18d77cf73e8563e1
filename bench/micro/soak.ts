// `npm run bench:soak`: the grading profile's traffic for a long time (default 10 minutes), sampling the
// service's memory, event-loop delay and open handles, Redis's memory and the latency per minute, to show
// that nothing drifts: a leak or a cache that never shrinks passes every 15 s bench and fails here.
// Writes <out>/soak-<date>-<sha>-<redis|no-redis>.{json,md,svg}.
//
//   npm run bench:soak -- [--duration 10m] [--no-redis] [--sample 5s] [--workers N] [--seed N] [--env KEY=VALUE ...] [--out DIR]
import { Redis } from 'ioredis';
import { FIXED } from '../k6/sentences.js';
import { newSst2Sentences, seededRandom } from '../lib/corpus.js';
import { fmtMs } from '../lib/format.js';
import { type ManagedProcess, PREDICT_PATH, assertAlive, startRedis, startService } from '../../test/harness.js';
import { sampleIn, scrapeMetrics } from '../../test/metrics-scrape.js';
import { runLoad } from '../lib/load.js';
import { defineBench, envFlags, numberFlag, stamp, valueFlags } from '../lib/runner.js';
import { BucketRecorder, renderSoakMarkdown, SOAK_TARGETS, type SoakReport, type SoakSample, summarizeSoak } from '../lib/soak-report.js';
import { renderSoakChart } from '../lib/timeline-chart.js';

const CONNECTIONS = 10; // the k6 grading profile's VUs
const REPEAT_RATE = 0.95;
const MiB = 1024 * 1024;

/** "10m", "20s" or plain seconds. */
function seconds(name: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(raw);
  if (!m || Number(m[1]) <= 0) throw new Error(`--${name} must be a duration like 10m, 20s or 600, got "${raw}"`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

async function sample(service: ManagedProcess, redis: Redis | undefined, t: number): Promise<SoakSample> {
  const [m, info] = await Promise.all([scrapeMetrics(service.url), redis?.info('memory')]);
  const get = (name: string): number => m.get(name) ?? Number.NaN;
  const used = info === undefined ? null : Number(/^used_memory:(\d+)/m.exec(info)?.[1]) / MiB;
  return {
    t,
    rssMiB: get('process_resident_memory_bytes') / MiB,
    heapUsedMiB: get('nodejs_heap_size_used_bytes') / MiB,
    eventLoopP99Ms: get('nodejs_eventloop_lag_p99_seconds') * 1000,
    activeHandles: get('nodejs_active_handles_total'),
    // Every model's tier (the gauge's model label).
    memoryTierEntries: sampleIn(m, 'inf_cache_memory_entries', Number.NaN),
    redisUsedMiB: used,
  };
}

defineBench({
  name: 'soak',
  title: 'Soak',
  usage: `  --duration D        how long, e.g. 10m, 20s or 600 (default 10m); buckets are a tenth of it, at most 60 s
  --no-redis          the in-process tier only (default: a private redis-server, as deployed)
  --sample D          how often /metrics and Redis are sampled (default 5 s, at most half a bucket)
  --workers N         WORKERS of the service (default: the machine's cores)
  --seed N            seed of the never-seen texts and of which requests repeat (default: random)
  --env KEY=VALUE     a setting of the service, e.g. --env CACHE_LRU_ENTRIES=10000 (repeatable)`,
  options: {
    duration: { type: 'string', default: '10m' },
    'no-redis': { type: 'boolean', default: false },
    env: { type: 'string', multiple: true },
    ...valueFlags('sample', 'workers', 'seed'),
  },
  async run({ values, ctx, log, track }) {
    const durationS = seconds('duration', values.duration as string);
    // Minutes in a real run; a short run still gets ten buckets, so its first, second and last differ.
    const bucketS = Math.min(60, Math.max(1, durationS / 10));
    const sampleS = values.sample === undefined ? Math.min(5, bucketS / 2) : seconds('sample', values.sample as string);
    const workers = numberFlag('workers', values.workers, ctx.machine.cpus);
    const seed = numberFlag('seed', values.seed, Math.floor(Math.random() * 2 ** 31) + 1);
    const withRedis = !values['no-redis'];
    const env = (values.env as string[] | undefined) ?? [];

    const random = seededRandom(seed);
    const fresh = await newSst2Sentences(seed);
    const repeated = JSON.stringify({ text: FIXED });
    const body = (): string => (random() < REPEAT_RATE ? repeated : JSON.stringify({ text: FIXED.map(fresh) }));

    const redis = withRedis ? await track(startRedis()) : undefined;
    const service = await track(
      startService(envFlags({ WORKERS: String(workers), LOG_LEVEL: 'warn', ...(redis ? { REDIS_URL: redis.url } : {}) }, env), {
        name: 'soak',
      }),
    );
    const redisClient = redis ? new Redis(redis.url, { lazyConnect: false }) : undefined;
    log(
      `${durationS} s, ${CONNECTIONS} connections, buckets of ${bucketS} s, samples every ${sampleS} s, ${withRedis ? 'with' : 'without'} Redis`,
    );
    try {
      const samples: SoakSample[] = [];
      let t0 = performance.now();
      const recorder = new BucketRecorder(bucketS);
      let timer: NodeJS.Timeout | undefined;
      let inFlight: Promise<void> = Promise.resolve();
      const takeSample = (): void => {
        inFlight = inFlight.then(async () => {
          samples.push(await sample(service, redisClient, (performance.now() - t0) / 1000));
        });
      };
      let reported = 0;
      const load = await runLoad(service.url, {
        connections: CONNECTIONS,
        pipelining: 1,
        warmupS: 0,
        durationS,
        maxS: durationS,
        path: PREDICT_PATH,
        body,
        serverPid: service.child.pid,
        onWindow: (edge) => {
          if (edge === 'start') {
            t0 = performance.now();
            recorder.start(t0);
            takeSample();
            timer = setInterval(() => {
              takeSample();
              const minute = Math.floor((performance.now() - t0) / 1000 / bucketS);
              if (minute > reported) {
                reported = minute;
                const b = recorder.buckets(minute).at(-1)!;
                log(
                  `bucket ${b.index}: ${b.ok + b.non2xx} answers, p50 ${fmtMs(b.p50)} ms, p99 ${fmtMs(b.p99)} ms, RSS ${samples.at(-1)?.rssMiB.toFixed(1)} MiB`,
                );
              }
            }, sampleS * 1000);
          } else {
            clearInterval(timer);
            takeSample();
          }
        },
        onResponse: (status, ms) => recorder.record(status, ms),
      });
      await inFlight;
      assertAlive(service, 'the soak');

      const buckets = recorder.buckets(Math.max(1, Math.round(load.durationS / bucketS)));
      const data = {
        finishedAt: new Date().toISOString(),
        settings: { durationS, bucketS, sampleS, connections: CONNECTIONS, workers, env, redis: withRedis, repeatRate: REPEAT_RATE, seed },
        targets: SOAK_TARGETS,
        samples,
        buckets,
        summary: summarizeSoak(samples, buckets, bucketS, load.errors),
      };
      // The runner writes the JSON with its own context; the renderers read the same context from the report.
      const report: SoakReport = { context: ctx, ...data };
      const file = `soak-${stamp(ctx.startedAt)}-${ctx.git.sha}-${withRedis ? 'redis' : 'no-redis'}`;
      return {
        data,
        file,
        header: false,
        markdown: [renderSoakMarkdown(report, `${file}.svg`)],
        extra: { svg: renderSoakChart(report) },
      };
    } finally {
      redisClient?.disconnect();
    }
  },
});
