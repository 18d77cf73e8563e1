// `npm run bench:overload` (issue 11): latency of accepted requests under 10x overload, against the same service
// unloaded, and what a refusal costs the main thread.
//   1. unloaded: 10 connections x 3 never-seen SST-2 sentences per request -> p50/p99 of the 200s;
//   2. overload, clients that honour Retry-After: 200 connections x 32 never-seen sentences, each refused
//      connection waiting its Retry-After (bench/lib/backoff-load.ts) -> p50/p99 of the 200s, 503s, others;
//   3. overload, the probe of finding 7 ("A strict edge"): 300 connections x 32 never-seen sentences whose clients
//      ignore Retry-After and send again at once (the same clients as in 2);
//   4. overload, clients that send again at once (autocannon): the same, plus the CPU of server and client
//      (both share this machine's cores, so the retry storm is mostly a measure of the load generator);
//   5. refusals only: the queue held full by a long request while 50 connections send 32 new texts each;
//      main-thread CPU (/proc/<pid>/task/<pid>/stat) / refusals = us of main-thread CPU per 503.
// Targets: overload p99 <= 2x unloaded p99; in 2 and 3, the accepted requests' queue time (x-queue-time) p99 <=
// MAX_QUEUE_DELAY_MS + one batch's run, where one batch's run is the model time of MAX_BATCH_SIZE texts in that
// window (inf_inference_duration_seconds_sum / inf_inferred_texts_total from /metrics, x MAX_BATCH_SIZE): what a
// request of one batch's texts adds to its own queue time when its texts run in several batches; and no
// "redis unhealthy" line while Redis is healthy. With --redis the service has a Redis cache as deployed, so every
// request, refused ones included, first asks Redis for its texts (a fully cached request is always answered).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type BackoffLoadOptions, runBackoffLoad } from '../lib/backoff-load.js';
import { readSentences, seededRandom, uniqueTexts } from '../lib/corpus.js';
import { fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { postPredict, PREDICT_PATH, SST2_DEV_TSV, startRedis, startService, waitFor } from '../../test/harness.js';
import { delta, scrape, scrapeMetrics } from '../../test/metrics-scrape.js';
import { defineBench, valueFlags, envFlags, envLine, numberFlag } from '../lib/runner.js';

/** CPU seconds of one thread of a process (utime + stime, in clock ticks of 10 ms). */
function threadCpuS(pid: number, tid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Redis's round trip as an idle client on this machine sees it (redis-cli --latency-history: a PING every 10 ms,
 * the interval's running min, max and mean in ms), so that a "redis unhealthy" line can be told from a Redis
 * that was slow for every client (on 2 shared cores, Redis itself waits for a core at times).
 */
function watchRedisLatency(port: string): { reset(): void; maxMs(): number; stop(): void } {
  const cli = spawn('redis-cli', ['-h', '127.0.0.1', '-p', port, '--latency-history', '-i', '1', '--raw'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let max = 0;
  createInterface({ input: cli.stdout }).on('line', (line) => {
    const intervalMax = Number(line.split(' ')[1]);
    if (Number.isFinite(intervalMax)) max = Math.max(max, intervalMax);
  });
  const stop = () => cli.kill();
  process.once('exit', stop);
  return {
    reset: () => {
      max = 0;
    },
    maxMs: () => max,
    stop,
  };
}

defineBench({
  name: 'overload',
  title: 'Accepted-request latency and queue time under 10× overload (issue 11, finding 7)',
  usage: `  --duration S        seconds per measured window (default 10)
  --redis             give the service a private redis-server (REDIS_URL), as deployed
  --env KEY=VALUE     a setting of the service, e.g. --env MAX_QUEUE_DELAY_MS=100 (repeatable)`,
  options: { ...valueFlags('duration'), redis: { type: 'boolean' }, env: { type: 'string', multiple: true } },
  async run({ values, log, track, measure }) {
    const durationS = numberFlag('duration', values.duration, 10);
    const env = envFlags({ WORKERS: '2', CACHE_LRU_ENTRIES: '0', LOG_LEVEL: 'warn' }, values.env as string[] | undefined);
    if (values.redis) env.REDIS_URL = (await track(startRedis())).url;
    // A suffix, not newSst2Sentences: the retry storm sends ~10,000 bodies a second, which the word-swap generator
    // (and its set of every text sent) cannot feed from the client's share of the cores.
    const next = uniqueTexts(readSentences(SST2_DEV_TSV), `overload-${Date.now()}`);
    const body = (n: number) => () => JSON.stringify({ text: Array.from({ length: n }, next) });
    const service = await track(startService(env));
    log(`service ${service.url}, ${envLine(env)}`);
    const pid = service.child.pid!;
    const window = { pipelining: 1, warmupS: 3, durationS, path: PREDICT_PATH };
    const maxQueueDelayMs = Number(env.MAX_QUEUE_DELAY_MS ?? 1000);
    const maxBatchSize = Number(env.MAX_BATCH_SIZE ?? 32);
    const unhealthyLines = () =>
      service
        .output()
        .split('\n')
        .filter((line) => line.includes('redis unhealthy')).length;
    const redisLatency = env.REDIS_URL ? watchRedisLatency(new URL(env.REDIS_URL).port) : undefined;
    /** Per load: the "redis unhealthy" lines the service logged, and Redis's own longest round trip meanwhile. */
    const phases: { load: string; redisUnhealthy: number; redisMaxMs: number | null }[] = [];
    const phase = async <T>(load: string, work: () => Promise<T>): Promise<T> => {
      const unhealthyBefore = unhealthyLines();
      redisLatency?.reset();
      const result = await work();
      phases.push({ load, redisUnhealthy: unhealthyLines() - unhealthyBefore, redisMaxMs: redisLatency?.maxMs() ?? null });
      return result;
    };
    /** Clients of backoff-load.ts, with the model time per text in the window. */
    const queueLoad = async (connections: number, options: Partial<BackoffLoadOptions>) => {
      let before: Promise<Map<string, number>> | undefined;
      let after: Promise<Map<string, number>> | undefined;
      const result = await runBackoffLoad(service.url, {
        ...window,
        connections,
        body: body(32),
        random: seededRandom(1),
        ...options,
        onWindow: (edge) => (edge === 'start' ? (before = scrapeMetrics(service.url)) : (after = scrapeMetrics(service.url))),
      });
      const [b, a] = [await before!, await after!];
      const modelMsPerText = (delta(b, a, 'inf_inference_duration_seconds_sum') * 1000) / delta(b, a, 'inf_inferred_texts_total');
      const batchRunMs = modelMsPerText * maxBatchSize;
      return { ...result, batchRunMs, boundMs: maxQueueDelayMs + batchRunMs };
    };
    const { load: unloaded } = await phase('10 × 3', () => measure(service, { ...window, connections: 10, body: body(3) }, false));
    const backoff = await phase('200 × 32 honouring Retry-After', () => queueLoad(200, {}));
    const ignoring = await phase('300 × 32 ignoring Retry-After', () => queueLoad(300, { ignoreRetryAfter: true }));
    const { load: storm } = await phase('200 × 32 autocannon', () =>
      measure(service, { ...window, connections: 200, body: body(32) }, false),
    );

    // Refusals only: one long request keeps the queue past MAX_QUEUE_DELAY_MS while the load runs. It is sent
    // once the overload's abandoned texts are gone: with nothing ahead, a request is always admitted.
    await waitFor(
      async () => (await scrape(service.url, 'inf_queue_texts', 'inf_workers_busy')).every((n) => n === 0),
      30_000,
      'no text queued and no batch running',
    );
    // 120 texts of 512 tokens: within MAX_QUEUE_TOKENS (65536), so it is admitted and holds the threads for seconds.
    const long = Array.from({ length: 120 }, (_, i) => `${i} ${'a long sentence that keeps the workers busy for a while '.repeat(40)}`);
    const holding = postPredict(service.url, { text: long }).then(
      (r) => r.status,
      () => 0,
    );
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = threadCpuS(pid, pid);
    const { load: refusals } = await phase('refusals only', () =>
      measure(service, { ...window, warmupS: 0, durationS: 5, connections: 50, body: body(32) }, false),
    );
    redisLatency?.stop();
    const per503 = ((threadCpuS(pid, pid) - cpu0) * 1e6) / Math.max(1, refusals.non2xx);
    log(`refusals: ${refusals.non2xx} x 503 and ${refusals.ok} x 200 in 5 s (holding request: ${await holding})`);

    const row = (what: string, texts: number, r: { ok: number; durationS: number; p50: number; p99: number }, refused: number) => [
      what,
      String(r.ok),
      fmtRps((r.ok * texts) / r.durationS),
      fmtMs(r.p50),
      fmtMs(r.p99),
      String(refused),
      (r.p99 / unloaded.p99).toFixed(2),
    ];
    const queueRow = (what: string, r: Awaited<ReturnType<typeof queueLoad>>) => [
      what,
      String(r.ok),
      String(r.refused),
      fmtMs(r.queueP50),
      fmtMs(r.queueP99),
      fmtMs(r.queueMax),
      fmtMs(r.batchRunMs),
      fmtMs(r.inferenceMax),
      `${fmtMs(r.boundMs)}: ${r.queueP99 <= r.boundMs ? 'met' : 'missed'}`,
    ];
    const unhealthyTotal = unhealthyLines();
    return {
      data: {
        settings: { durationS, env, maxQueueDelayMs, maxBatchSize },
        unloaded,
        backoff,
        ignoring,
        storm,
        refusals,
        usPerRefusal: per503,
        redisUnhealthyLines: redisLatency ? unhealthyTotal : null,
        phases,
      },
      markdown: [
        `Service ${envLine(env)}; never-seen SST-2 sentences with a unique suffix; ${window.warmupS} s warm-up, ${durationS} s windows.`,
        '',
        ...mdTable(
          ['load', '200s', 'sentences/s', 'p50 ms', 'p99 ms', 'refused (503)', 'p99 / unloaded p99'],
          [
            row('10 connections × 3 texts', 3, unloaded, unloaded.non2xx),
            row('200 × 32, clients honour Retry-After', 32, backoff, backoff.refused),
            row('200 × 32, clients send again at once', 32, storm, storm.non2xx),
          ],
          1,
        ),
        '',
        `Target: overload p99 <= 2 × unloaded p99. Clients honouring Retry-After: ${backoff.refusedWithoutRetryAfter} refusals without it,`,
        `${backoff.failed} other answers or errors, client CPU ${backoff.clientCpu.toFixed(2)} cores. Sending again at once: server`,
        `${storm.serverCpu?.toFixed(2)} cores, client ${storm.clientCpu.toFixed(2)}. Main-thread CPU per refusal (32 new texts): ${per503.toFixed(0)} µs.`,
        '',
        `Queue time of accepted requests (x-queue-time: the request's slowest text's wait for a model thread), against`,
        `MAX_QUEUE_DELAY_MS (${maxQueueDelayMs} ms) + one batch's run: the model time of MAX_BATCH_SIZE (${maxBatchSize}) texts in the`,
        'window (Σ inference time / texts run, from /metrics).',
        '',
        ...mdTable(
          [
            'load (32 texts per request)',
            '200s',
            '503s',
            'queue p50 ms',
            'queue p99 ms',
            'queue max ms',
            'one batch run ms',
            'largest x-inference-time ms',
            'p99 ≤ bound ms',
          ],
          [
            queueRow('200 connections, clients honour Retry-After', backoff),
            queueRow('300 connections, clients ignore Retry-After', ignoring),
          ],
          1,
        ),
        '',
        redisLatency
          ? [
              `"redis unhealthy" lines (warm-ups included) / Redis's own longest round trip meanwhile (redis-cli --latency-history, a PING`,
              `every 10 ms from an idle client): ${phases.map((p) => `${p.load}: ${p.redisUnhealthy} / ${p.redisMaxMs} ms`).join('; ')}.`,
              `In the whole run: ${unhealthyTotal}. Target: 0 while Redis is healthy.`,
            ].join('\n')
          : 'Without --redis: no Redis, so no "redis unhealthy" count.',
      ],
    };
  },
});
