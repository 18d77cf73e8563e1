// `npm run bench:overload` (issue 11): latency of accepted requests under 10x overload, against the same service
// unloaded, and what a refusal costs the main thread.
//   1. unloaded: 10 connections x 3 never-seen SST-2 sentences per request -> p50/p99 of the 200s;
//   2. overload, clients that honour Retry-After: 200 connections x 32 never-seen sentences, each refused
//      connection waiting its Retry-After (bench/lib/backoff-load.ts) -> p50/p99 of the 200s, 503s, others;
//   3. overload, clients that send again at once (autocannon): the same, plus the CPU of server and client
//      (both share this machine's cores, so the retry storm is mostly a measure of the load generator);
//   4. refusals only: the queue held full by a long request while 50 connections send 32 new texts each;
//      main-thread CPU (/proc/<pid>/task/<pid>/stat) / refusals = us of main-thread CPU per 503.
// Target: overload p99 <= 2x unloaded p99. With --redis the service has a Redis cache as deployed, so every
// request, refused ones included, first asks Redis for its texts (a fully cached request is always answered).
import { readFileSync } from 'node:fs';
import { runBackoffLoad } from '../lib/backoff-load.js';
import { readSentences, seededRandom, uniqueTexts } from '../lib/corpus.js';
import { fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { postPredict, PREDICT_PATH, SST2_DEV_TSV, scrape, startRedis, startService, waitFor } from '../lib/harness.js';
import { defineBench, valueFlags, envFlags, envLine, numberFlag } from '../lib/runner.js';

/** CPU seconds of one thread of a process (utime + stime, in clock ticks of 10 ms). */
function threadCpuS(pid: number, tid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

defineBench({
  name: 'overload',
  title: 'Accepted-request latency under 10× overload (issue 11)',
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
    const { load: unloaded } = await measure(service, { ...window, connections: 10, body: body(3) }, false);
    const backoff = await runBackoffLoad(service.url, { ...window, connections: 200, body: body(32), random: seededRandom(1) });
    const { load: storm } = await measure(service, { ...window, connections: 200, body: body(32) }, false);

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
    const { load: refusals } = await measure(service, { ...window, warmupS: 0, durationS: 5, connections: 50, body: body(32) }, false);
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
    return {
      data: { settings: { durationS, env }, unloaded, backoff, storm, refusals, usPerRefusal: per503 },
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
      ],
    };
  },
});
