// What signing the cache's values costs (CACHE_SIGNING_KEYS, src/cache/value-signing.ts), in one run:
// 1. per value, in this process: sealing (a write) and opening (a read) a real-sized value under a real-sized Redis
//    key, and the same HMAC through createHmac, the route not taken; best of several timed loops, in µs;
// 2. the service's CPU per cached answer on the Redis-only cached path (CACHE_LRU_ENTRIES=0: no in-process tier,
//    no response memo, so every request reads and verifies its texts from Redis), without and with keys, each
//    service on its own redis-server, in alternating rounds as bench:cluster runs them; the result is the median of
//    the rounds' pair ratios (and differences), which sets aside a window that the shared machine disturbed.
import { createHmac, hash } from 'node:crypto';
import { type ManagedProcess, postPredict, PREDICT_PATH, startAll, startRedis, startService } from '../../test/harness.js';
import { delta, modelWork } from '../../test/metrics-scrape.js';
import { fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { problems, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';
import { createCacheKey } from '../../src/cache/cache-key.js';
import { ValueSigner } from '../../src/cache/value-signing.js';

type Target = 'unsigned' | 'signed';
const LABELS: Record<Target, string> = { unsigned: 'no keys (values unsigned)', signed: 'CACHE_SIGNING_KEYS set' };
// A bench key: any 32-64 characters do; what it signs never leaves this run's private redis-servers.
const KEY = 'bench-signing-key-0123456789abcdef0123456789';
// The stand-in model's value for a typical sentence, and a key of the service's shape (prefix, model id, digest).
const PREDICTION = '[{"label":"POSITIVE","score":0.9998656511306763},{"label":"NEGATIVE","score":0.00013436275185085833}]';

interface RunRecord {
  target: Target;
  round: number;
  measured: LoadResult;
  redisHitsPerRequest: number;
  invalid: number;
  modelRuns: number;
}

interface MicroResult {
  sealUs: number;
  openUs: number;
  createHmacUs: number;
}

defineBench({
  name: 'cache-signing',
  title: 'Signed cache values: cost per value, and service CPU per cached answer without and with keys',
  usage: `  --texts N           texts per request, all cached (default 10)
  --connections N     autocannon connections (default 20)
  --duration S        seconds per measured run (default 5)
  --warmup S          seconds of warm-up right before each measured run (default 2)
  --rounds N          measured runs per target (default 6)
  --micro-loops N     timed loops of 100,000 values per micro measure (default 7; the best is kept)`,
  options: valueFlags('texts', 'connections', 'duration', 'warmup', 'rounds', 'micro-loops'),
  async run({ values, log, started, track, measure }) {
    const cfg = {
      texts: numberFlag('texts', values.texts, 10),
      connections: numberFlag('connections', values.connections, 20),
      durationS: numberFlag('duration', values.duration, 5),
      warmupS: numberFlag('warmup', values.warmup, 2),
      rounds: numberFlag('rounds', values.rounds, 6),
      microLoops: numberFlag('micro-loops', values['micro-loops'], 7),
    };

    const micro = microCosts(cfg.microLoops);
    log(
      `per value: seal ${micro.sealUs.toFixed(3)} µs, open ${micro.openUs.toFixed(3)} µs (createHmac alone: ${micro.createHmacUs.toFixed(3)} µs)`,
    );

    const body = JSON.stringify({
      text: Array.from({ length: cfg.texts }, (_, i) => `a cached sentence for the signing bench, number ${i}`),
    });
    const [redisPlain, redisSigned] = await track(Promise.all([startRedis(), startRedis()]));
    const env = { CACHE_LRU_ENTRIES: '0', WORKERS: '1' };
    const [unsigned, signed] = await startAll(
      [
        () => startService({ ...env, REDIS_URL: redisPlain!.url }, { name: 'service-unsigned' }),
        () => startService({ ...env, REDIS_URL: redisSigned!.url, CACHE_SIGNING_KEYS: KEY }, { name: 'service-signed' }),
      ],
      started,
    );
    const servers: Record<Target, ManagedProcess> = { unsigned: unsigned!, signed: signed! };
    for (const [target, server] of Object.entries(servers)) {
      await postPredict(server.url, body, { raw: true });
      // Writes are not awaited by the answer: poll until the texts are all in Redis.
      for (let i = 0; (await postPredict(server.url, body, { raw: true })).headers.get('x-cache') !== 'hit'; i++) {
        if (i > 100) throw new Error(`${target}: the body never became a Redis hit`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    log(
      `unsigned ${servers.unsigned.url} (redis ${redisPlain!.url}); signed ${servers.signed.url} (redis ${redisSigned!.url}); ${cfg.texts} texts per request`,
    );

    const runs: RunRecord[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      // Alternate who goes first, so a drift in the shared machine's load does not favour one target.
      const order: Target[] = round % 2 === 0 ? ['unsigned', 'signed'] : ['signed', 'unsigned'];
      for (const target of order) {
        const {
          load: measured,
          before: b,
          after: a,
        } = await measure(servers[target], {
          connections: cfg.connections,
          pipelining: 1,
          warmupS: cfg.warmupS,
          durationS: cfg.durationS,
          path: PREDICT_PATH,
          body,
        });
        const record: RunRecord = {
          target,
          round,
          measured,
          redisHitsPerRequest: delta(b!, a!, 'inf_cache_lookups_total{result="redis_hit"}') / measured.ok,
          invalid: delta(b!, a!, 'inf_cache_redis_invalid_total'),
          modelRuns: modelWork(b!, a!).runs,
        };
        runs.push(record);
        log(
          `round ${round + 1} ${target.padEnd(8)}: ${fmtRps(measured.okRps)} req/s, p50 ${fmtMs(measured.p50)} ms, p99 ${fmtMs(measured.p99)} ms, ` +
            `service ${fmtRps(measured.serverCpuUsPerRequest ?? Number.NaN)} µs/answer, ${record.redisHitsPerRequest.toFixed(2)} redis hits/request` +
            (problems(measured) ? `, ${problems(measured).toUpperCase()}` : '') +
            (record.invalid ? `, ${record.invalid} INVALID VALUES` : '') +
            (record.modelRuns ? `, ${record.modelRuns} MODEL RUNS (not fully cached)` : ''),
        );
      }
    }
    return { data: { settings: cfg, micro, runs }, markdown: render(cfg, micro, runs) };
  },
});

/** Best of `loops` timed loops of 100,000 calls each (after a warm-up loop), in µs per call. */
function timeIt(loops: number, f: () => string): number {
  const n = 100_000;
  let sink = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let loop = -1; loop < loops; loop++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += f().length;
    const us = Number(process.hrtime.bigint() - start) / 1000 / n;
    if (loop >= 0) best = Math.min(best, us);
  }
  if (sink === 0) throw new Error('unreachable: every call returns a string');
  return best;
}

function microCosts(loops: number): MicroResult {
  const redisKey = createCacheKey(
    'fastapi-cache-project',
    `distilbert-sst2-standin@${hash('sha256', 'model').slice(0, 16)}`,
  )('a typical sentence of the stand-in model');
  const signer = new ValueSigner([KEY]);
  const sealed = signer.seal(redisKey, PREDICTION);
  if (signer.open(redisKey, sealed) !== PREDICTION) throw new Error('the sealed value does not open');
  const message = `v1:${redisKey.length}:${redisKey}${PREDICTION}`;
  return {
    sealUs: timeIt(loops, () => signer.seal(redisKey, PREDICTION)),
    openUs: timeIt(loops, () => signer.open(redisKey, sealed)!),
    createHmacUs: timeIt(loops, () => createHmac('sha256', KEY).update(message).digest('base64url')),
  };
}

function render(
  cfg: { texts: number; connections: number; durationS: number; rounds: number },
  micro: MicroResult,
  runs: RunRecord[],
): string[] {
  const serviceUs = (r: RunRecord): number => r.measured.serverCpuUsPerRequest ?? Number.NaN;
  const stats = (target: Target) => {
    const rs = runs.filter((r) => r.target === target);
    return {
      rps: median(rs.map((r) => r.measured.okRps)),
      p50: median(rs.map((r) => r.measured.p50)),
      p99: median(rs.map((r) => r.measured.p99)),
      serviceMinUs: Math.min(...rs.map(serviceUs).filter(Number.isFinite)),
      serviceUs: median(rs.map(serviceUs)),
      hits: median(rs.map((r) => r.redisHitsPerRequest)),
      failed: rs.reduce((n, r) => n + r.measured.non2xx + r.measured.errors, 0),
      invalid: rs.reduce((n, r) => n + r.invalid, 0),
    };
  };
  const u = stats('unsigned');
  const s = stats('signed');
  const pairs = Array.from({ length: cfg.rounds }, (_, round) =>
    (['unsigned', 'signed'] as const).map((target) => runs.find((r) => r.round === round && r.target === target)),
  ).filter((pair): pair is [RunRecord, RunRecord] => pair.every((r) => r !== undefined));
  const ratios = pairs.map(([plain, signedRun]) => serviceUs(signedRun) / serviceUs(plain));
  const extraUs = median(pairs.map(([plain, signedRun]) => serviceUs(signedRun) - serviceUs(plain)));
  const row = (target: Target, x: typeof u) => [
    LABELS[target],
    fmtRps(x.rps),
    fmtMs(x.p50),
    fmtMs(x.p99),
    fmtRps(x.serviceMinUs),
    fmtRps(x.serviceUs),
    x.hits.toFixed(2),
    String(x.failed),
    String(x.invalid),
  ];
  return [
    '## Per value (this process, best of the timed loops)',
    '',
    ...mdTable(
      ['operation', 'µs per value'],
      [
        ['seal (a write: HMAC, then the header)', micro.sealUs.toFixed(3)],
        ['open (a read: header, HMAC, compare)', micro.openUs.toFixed(3)],
        ['createHmac + update + digest (the route not taken)', micro.createHmacUs.toFixed(3)],
      ],
    ),
    '',
    '## Service CPU per cached answer, Redis-only cached path',
    '',
    `Every request: the same ${cfg.texts} cached texts, CACHE_LRU_ENTRIES=0 (no in-process tier, no response memo), ` +
      `${cfg.connections} connections, ${cfg.durationS} s per run, ${cfg.rounds} rounds alternating, each service on its own ` +
      'redis-server; medians unless the column says min.',
    '',
    ...mdTable(
      [
        'target',
        'req/s',
        'p50 ms',
        'p99 ms',
        'service CPU µs/answer, min',
        'service CPU µs/answer',
        'Redis hits/request',
        'failed',
        'invalid values',
      ],
      [row('unsigned', u), row('signed', s)],
    ),
    '',
    `- Service CPU per answer, signed / unsigned, median of the rounds' pairs: ×${median(ratios).toFixed(3)}; the pairs: ${ratios.map((x) => `×${x.toFixed(2)}`).join(', ')}`,
    `- Extra service CPU per answer, median of the pairs' differences: ${extraUs.toFixed(1)} µs, ${(extraUs / cfg.texts).toFixed(2)} µs per text read`,
    `- From each target's least disturbed round (min): ×${(s.serviceMinUs / u.serviceMinUs).toFixed(3)}; from the medians: ×${(s.serviceUs / u.serviceUs).toFixed(3)}`,
    `- req/s, signed / unsigned: ×${(s.rps / u.rps).toFixed(3)}`,
  ];
}
