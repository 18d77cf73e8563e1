// Issue 11: latency of accepted requests under 10x overload, against the same service unloaded, and what a
// refusal costs the main thread.
//   1. unloaded: 10 connections x 3 never-seen SST-2 sentences per request -> p50/p99 of the 200s;
//   2. overload, clients that honour Retry-After: 200 connections x 32 never-seen sentences, each refused
//      connection waiting its Retry-After (bench/lib/backoff-load.ts) -> p50/p99 of the 200s, 503s, others;
//   3. overload, clients that send again at once (autocannon): the same, plus the CPU of server and client
//      (both share this machine's cores, so the retry storm is mostly a measure of the load generator);
//   4. refusals only: the queue held full by a long request while 50 connections send 32 new texts each;
//      main-thread CPU (/proc/<pid>/task/<pid>/stat) / refusals = us of main-thread CPU per 503.
// Target: overload p99 <= 2x unloaded p99. One run; the machine is shared, so read the ratios, not the ms.
// With --redis the service has a Redis cache as deployed, so every request, refused ones included, first asks
// Redis for its texts (a fully cached request must be answered under any overload).
//
//   node dist/bench/micro/overload.js [--duration 10] [--redis] [--env KEY=VALUE ...]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runBackoffLoad } from '../lib/backoff-load.js';
import { readSentences, seededRandom, uniqueTexts } from '../lib/corpus.js';
import { PREDICT_PATH, SST2_DEV_TSV, scrape, startRedis, startService, waitFor } from '../lib/harness.js';
import { runLoad } from '../lib/load.js';

const say = (line: string): void => {
  process.stdout.write(`[overload] ${line}\n`);
};

/** CPU seconds of one thread of a process (utime + stime, in clock ticks of 10 ms). */
function threadCpuS(pid: number, tid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { duration: { type: 'string' }, redis: { type: 'boolean' }, env: { type: 'string', multiple: true } },
  });
  const durationS = Number(values.duration ?? 10);
  const env: Record<string, string> = { WORKERS: '2', CACHE_LRU_ENTRIES: '0' };
  for (const pair of values.env ?? []) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  const redis = values.redis ? await startRedis() : undefined;
  if (redis) env.REDIS_URL = redis.url;
  // A suffix, not newSst2Sentences: the retry storm sends ~10,000 bodies a second, which the word-swap generator
  // (and its set of every text sent) cannot feed from the client's share of the cores.
  const next = uniqueTexts(readSentences(SST2_DEV_TSV), `overload-${Date.now()}`);
  const body = (n: number) => () => JSON.stringify({ text: Array.from({ length: n }, next) });
  say(
    `service env ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const service = await startService(env, { name: 'service' });
  try {
    const pid = service.child.pid!;
    const unloaded = await runLoad(service.url, {
      connections: 10,
      pipelining: 1,
      warmupS: 3,
      durationS,
      path: PREDICT_PATH,
      body: body(3),
    });
    say(
      `unloaded 10 x 3: ${unloaded.ok} x 200, p50 ${unloaded.p50.toFixed(1)} ms, p99 ${unloaded.p99.toFixed(1)} ms, ${unloaded.non2xx} non-2xx`,
    );
    const backoff = await runBackoffLoad(service.url, {
      connections: 200,
      warmupS: 3,
      durationS,
      path: PREDICT_PATH,
      body: body(32),
      random: seededRandom(1),
    });
    say(
      `overload 200 x 32, clients honour Retry-After: ${backoff.ok} x 200 (${((backoff.ok * 32) / backoff.durationS).toFixed(0)} sentences/s), p50 ${backoff.p50.toFixed(1)} ms, p99 ${backoff.p99.toFixed(1)} ms, ${backoff.refused} x 503 (${backoff.refusedWithoutRetryAfter} without Retry-After), ${backoff.failed} other answers or errors; client CPU ${backoff.clientCpu.toFixed(2)} cores`,
    );
    const overload = await runLoad(service.url, {
      connections: 200,
      pipelining: 1,
      warmupS: 3,
      durationS,
      path: PREDICT_PATH,
      body: body(32),
      serverPid: pid,
    });
    say(
      `overload 200 x 32, clients send again at once: ${overload.ok} x 200 (${((overload.ok * 32) / overload.durationS).toFixed(0)} sentences/s), p50 ${overload.p50.toFixed(1)} ms, p99 ${overload.p99.toFixed(1)} ms, ${overload.non2xx} non-2xx, ${overload.errors} errors; CPU: server ${overload.serverCpu?.toFixed(2)} cores, client ${overload.clientCpu.toFixed(2)} cores`,
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
    const holding = fetch(service.url + PREDICT_PATH, {
      method: 'POST',
      body: JSON.stringify({ text: long }),
      headers: { 'content-type': 'application/json' },
    }).then(
      (r) => r.status,
      () => 0,
    );
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = threadCpuS(pid, pid);
    const refusals = await runLoad(service.url, {
      connections: 50,
      pipelining: 1,
      warmupS: 0,
      durationS: 5,
      path: PREDICT_PATH,
      body: body(32),
    });
    const cpu1 = threadCpuS(pid, pid);
    const per503 = ((cpu1 - cpu0) * 1e6) / Math.max(1, refusals.non2xx);
    say(
      `refusals: ${refusals.non2xx} x 503 and ${refusals.ok} x 200 in 5 s; main thread ${(cpu1 - cpu0).toFixed(2)} CPU s -> ${per503.toFixed(0)} us per answer (holding request: ${await holding})`,
    );

    process.stdout.write(`
| load | 200s | sentences/s | p50 ms | p99 ms | refused (503) | p99 / unloaded p99 |
| --- | --- | --- | --- | --- | --- | --- |
| 10 connections x 3 texts | ${unloaded.ok} | ${((unloaded.ok * 3) / unloaded.durationS).toFixed(0)} | ${unloaded.p50.toFixed(1)} | ${unloaded.p99.toFixed(1)} | ${unloaded.non2xx} | 1 |
| 200 x 32, clients honour Retry-After | ${backoff.ok} | ${((backoff.ok * 32) / backoff.durationS).toFixed(0)} | ${backoff.p50.toFixed(1)} | ${backoff.p99.toFixed(1)} | ${backoff.refused} | ${(backoff.p99 / unloaded.p99).toFixed(2)} |
| 200 x 32, clients send again at once | ${overload.ok} | ${((overload.ok * 32) / overload.durationS).toFixed(0)} | ${overload.p50.toFixed(1)} | ${overload.p99.toFixed(1)} | ${overload.non2xx} | ${(overload.p99 / unloaded.p99).toFixed(2)} |

Target: overload p99 <= 2 x unloaded p99. Main-thread CPU per refusal (32 new texts): ${per503.toFixed(0)} us.
Load average at end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}.
`);
  } finally {
    await service.stop();
    await redis?.stop();
  }
}

await main();
