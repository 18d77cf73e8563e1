// `npm run bench:cached` (issues 3 and 16): the fully cached path against the framework's own ceiling. Runs the
// service four times beside a private redis-server (the defaults: Redis + in-process LRU + response memo; Redis
// only, CACHE_LRU_ENTRIES=0, so every request does one MGET; and, as diagnostics, the defaults with metrics and
// timing headers off, and with the response memo off, so every request is parsed and looked up) and a bare
// uWebSockets.js server that answers the service's exact bytes, then loads them in turns with the same body.
// Targets: >= 80% of the bare server's req/s (issue 3); <= 1.2x its server CPU per answer (issue 16).
import { join } from 'node:path';
import { HEALTH_PATH, type ManagedProcess, postPredict, PREDICT_PATH, REPO_ROOT } from '../../test/harness.js';
import { delta, modelWork } from '../../test/metrics-scrape.js';
import { startAll, startNodeServer, startRedis, startService } from '../../test/harness.js';
import { fmtCores, fmtMs, fmtPct, fmtRps, mdTable } from '../lib/format.js';
import { failures, problems, type LoadResult } from '../lib/load.js';
import { defineBench, valueFlags, listFlag, numberFlag } from '../lib/runner.js';
import { median } from '../lib/stats.js';

const BODY = JSON.stringify({ text: ['I love you!', 'I hate you!', 'The movie was fine.'] });
const RPS_TARGET = 0.8;
const CPU_TARGET = 1.2;
const BARE_JS = join(REPO_ROOT, 'dist', 'bench', 'micro', 'bare-server.js');

type TargetKey = 'lru' | 'redis' | 'lean' | 'nomemo' | 'bare' | 'baseline';
const TARGETS: Record<TargetKey, { label: string; env?: Record<string, string>; target?: boolean }> = {
  lru: { label: 'service, Redis + in-process LRU + response memo (the defaults)', env: {}, target: true },
  redis: { label: 'service, Redis only (CACHE_LRU_ENTRIES=0: one MGET per request)', env: { CACHE_LRU_ENTRIES: '0' }, target: true },
  lean: {
    label: 'diagnostic: the defaults with METRICS_ENABLED=false TIMING_HEADERS=false',
    env: { METRICS_ENABLED: 'false', TIMING_HEADERS: 'false' },
  },
  nomemo: {
    label: 'diagnostic: the defaults with RESPONSE_MEMO_ENTRIES=0 (parse, validate, LRU lookups)',
    env: { RESPONSE_MEMO_ENTRIES: '0' },
  },
  bare: { label: 'bare uWebSockets.js, same response bytes' },
  baseline: { label: 'the build of --baseline-js, the defaults' },
};
/** This build's defaults against the build before a change (--baseline-js): CPU per answer at most 5 % above. */
const BASELINE_TARGET = 0.05;
const SERVICES = ['lru', 'redis', 'lean', 'nomemo'] as const;

interface RunRecord {
  target: TargetKey;
  pipelining: number;
  round: number;
  measured: LoadResult;
  /** Service only, from its /metrics over the window: model runs (must be 0), and per request the memo's answers. */
  modelRuns?: number;
  memoHitsPerRequest?: number;
  redisHitsPerRequest?: number;
}

defineBench({
  name: 'cached-vs-bare',
  title: 'Cached path vs a bare uWebSockets.js server (issues 3 and 16)',
  usage: `  --connections N     autocannon connections (default 50)
  --pipelining LIST   pipelining factors, each a separate set of rounds (default 1,10)
  --duration S        seconds per measured window (default 10)
  --warmup S          seconds of warm-up right before each window, on the same connections (default 3)
  --rounds N          measured runs per target and pipelining factor (default 2)
  --workers N         WORKERS of the service (default 1: the cached path never reaches a worker)
  --baseline-js PATH  also measure this build's dist/src/main.js with the defaults (e.g. the commit before a change)`,
  options: { ...valueFlags('connections', 'pipelining', 'duration', 'warmup', 'rounds', 'workers', 'baseline-js') },
  async run({ values, log, started: tracked, track, measure }) {
    const cfg = {
      connections: numberFlag('connections', values.connections, 50),
      pipelining: listFlag('pipelining', values.pipelining, [1, 10]),
      durationS: numberFlag('duration', values.duration, 10),
      warmupS: numberFlag('warmup', values.warmup, 3),
      rounds: numberFlag('rounds', values.rounds, 2),
      workers: numberFlag('workers', values.workers, 1),
    };
    const redis = await track(startRedis());
    const env = { REDIS_URL: redis.url, WORKERS: String(cfg.workers), LOG_LEVEL: 'warn' };
    const started = await startAll(
      SERVICES.map((k) => () => startService({ ...env, ...TARGETS[k].env }, { name: `service-${k}` })),
      tracked,
    );
    const servers = Object.fromEntries(SERVICES.map((k, i) => [k, started[i]!])) as Record<TargetKey, ManagedProcess>;
    const baselineJs = values['baseline-js'] as string | undefined;
    if (baselineJs) servers.baseline = await track(startService(env, { name: 'service-baseline', script: baselineJs }));

    // The first POST runs the model and writes Redis; the others find the texts in Redis or the LRU, and the
    // third to the defaults is the response memo's answer (the second entered it).
    const first = await postPredict(servers.lru.url, BODY, { raw: true });
    if (first.status !== 200) throw new Error(`warming POST answered ${first.status}: ${first.text}`);
    const warming: TargetKey[] = ['redis', 'lru', 'lean', 'nomemo', 'lru', ...(baselineJs ? (['baseline', 'baseline'] as const) : [])];
    for (const k of warming) {
      const r = await postPredict(servers[k].url, BODY, { raw: true });
      if (r.status !== 200 || r.text !== first.text || r.headers.get('x-cache') !== 'hit') {
        throw new Error(`${k} answered ${r.status} x-cache ${r.headers.get('x-cache')} ${r.text}, not the first answer from the cache`);
      }
    }
    // The bare server echoes the service's header set with fixed values, so both answers are the same size.
    const headerNames = ['x-request-id', 'x-cache', 'x-queue-time', 'x-inference-time', 'x-total-time'];
    const bareHeaders = headerNames.map((n) => [n, first.headers.get(n) ?? ''] as const).filter(([, v]) => v !== '');
    servers.bare = await track(
      startNodeServer({
        name: 'bare',
        script: BARE_JS,
        healthPath: HEALTH_PATH,
        env: { BARE_BODY_B64: Buffer.from(first.text).toString('base64'), BARE_HEADERS: JSON.stringify(bareHeaders) },
      }),
    );
    if ((await postPredict(servers.bare.url, BODY, { raw: true })).text !== first.text)
      throw new Error('the bare server does not answer the captured bytes');

    const runs: RunRecord[] = [];
    for (const [pi, pipelining] of cfg.pipelining.entries()) {
      for (let round = 0; round < cfg.rounds; round++) {
        // Alternate who goes first, so a drift in the shared machine's load does not favour one target.
        const order: TargetKey[] = ['lru', 'redis', 'lean', 'nomemo', 'bare', ...(baselineJs ? (['baseline'] as const) : [])];
        if ((pi + round) % 2 === 1) order.reverse();
        // Redis-only answers come a tick later, which uWS cannot pipeline (uNetworking/uWebSockets.js#277).
        for (const target of order.filter((t) => t !== 'redis' || pipelining === 1)) {
          // The bare server and the metrics-off service have no /metrics to read.
          const scraped = target !== 'bare' && target !== 'lean';
          const { load, before, after } = await measure(
            servers[target],
            { connections: cfg.connections, pipelining, warmupS: cfg.warmupS, durationS: cfg.durationS, path: PREDICT_PATH, body: BODY },
            scraped,
          );
          const record: RunRecord = { target, pipelining, round, measured: load };
          if (before && after) {
            record.modelRuns = modelWork(before, after).runs;
            record.memoHitsPerRequest = delta(before, after, 'inf_response_memo_hits_total') / load.ok;
            record.redisHitsPerRequest = delta(before, after, 'inf_cache_lookups_total{result="redis_hit"}') / load.ok;
          }
          runs.push(record);
          log(
            `p${pipelining} round ${round + 1} ${target}: ${fmtRps(load.okRps)} req/s, p99 ${fmtMs(load.p99)} ms, ` +
              `CPU server ${fmtCores(load.serverCpu)} client ${fmtCores(load.clientCpu)} ${problems(load)}` +
              (record.modelRuns ? `, ${record.modelRuns} MODEL RUNS (not fully cached)` : ''),
          );
        }
      }
    }

    const summaries = cfg.pipelining.flatMap((pipelining) => {
      const stats = (target: TargetKey) => {
        const rs = runs.filter((r) => r.target === target && r.pipelining === pipelining).map((r) => r.measured);
        return {
          target,
          pipelining,
          rps: median(rs.map((r) => r.okRps)),
          p99: median(rs.map((r) => r.p99)),
          serverCpu: median(rs.map((r) => r.serverCpu ?? Number.NaN)),
          clientCpu: median(rs.map((r) => r.clientCpu)),
          cpuUsPerAnswer: median(rs.map((r) => r.serverCpuUsPerRequest ?? Number.NaN)),
          failed: rs.reduce((n, r) => n + failures(r), 0),
        };
      };
      const bare = stats('bare');
      const present = (['lru', 'redis', 'lean', 'nomemo', 'bare', 'baseline'] as const).filter(
        (t) => (t !== 'redis' || pipelining === 1) && (t !== 'baseline' || baselineJs),
      );
      const baseline = baselineJs ? stats('baseline') : undefined;
      return present.map((t) => {
        const s = stats(t);
        return {
          ...s,
          rpsOfBare: s.rps / bare.rps,
          cpuOfBare: s.cpuUsPerAnswer / bare.cpuUsPerAnswer,
          // The defaults of this build against the same defaults of the build before.
          cpuOfBaseline: t === 'lru' && baseline ? s.cpuUsPerAnswer / baseline.cpuUsPerAnswer : undefined,
          rpsOfBaseline: t === 'lru' && baseline ? s.rps / baseline.rps : undefined,
        };
      });
    });
    const verdict = (s: (typeof summaries)[number], ok: boolean): string =>
      s.target === 'bare' ? '' : TARGETS[s.target].target ? (ok ? 'met' : 'MISSED') : 'not a target';
    return {
      data: { settings: { ...cfg, body: BODY, baselineJs }, summaries, runs },
      markdown: [
        `Body \`${BODY}\` (all cached), no Content-Type header; answer ${Buffer.byteLength(first.text)} bytes of body. autocannon,`,
        `${cfg.connections} connections, ${cfg.rounds} rounds per target and pipelining factor, ${cfg.warmupS} s warm-up then a`,
        `${cfg.durationS} s window on the same connections, order alternating per round; service WORKERS=${cfg.workers}, metrics and`,
        'timing headers at their defaults (on). Medians over rounds; CPU in cores; "CPU per answer" is server CPU µs',
        'per 2xx answer, which does not depend on whether the load generator kept up (the req/s ratio does).',
        '',
        ...mdTable(
          [
            'Target',
            'Pipelining',
            'req/s',
            `of bare (>= ${fmtPct(RPS_TARGET)})`,
            'p99 ms',
            'server / client CPU',
            'CPU µs per answer',
            `/ bare (<= ×${CPU_TARGET})`,
            'failed',
          ],
          summaries.map((s) => [
            TARGETS[s.target].label,
            String(s.pipelining),
            fmtRps(s.rps),
            s.target === 'bare' ? '' : `${fmtPct(s.rpsOfBare)} ${verdict(s, s.rpsOfBare >= RPS_TARGET)}`,
            fmtMs(s.p99),
            `${fmtCores(s.serverCpu)} / ${fmtCores(s.clientCpu)}`,
            fmtRps(s.cpuUsPerAnswer),
            s.target === 'bare' ? '' : `×${s.cpuOfBare.toFixed(2)} ${verdict(s, s.cpuOfBare <= CPU_TARGET)}`,
            String(s.failed),
          ]),
          1,
        ),
        ...(baselineJs === undefined
          ? []
          : [
              '',
              `The defaults of this build against the same defaults of \`${baselineJs}\` (target: CPU per answer at most`,
              `${BASELINE_TARGET * 100} % above, i.e. not slower):`,
              '',
              ...mdTable(
                ['Pipelining', 'req/s this / baseline', 'CPU µs per answer this / baseline'],
                summaries
                  .filter((s) => s.cpuOfBaseline !== undefined)
                  .map((s) => [
                    String(s.pipelining),
                    `×${s.rpsOfBaseline!.toFixed(3)}`,
                    `×${s.cpuOfBaseline!.toFixed(3)} ${s.cpuOfBaseline! <= 1 + BASELINE_TARGET ? 'met' : 'MISSED'}`,
                  ]),
              ),
            ]),
        '',
        '## Every measured run',
        '',
        ...mdTable(
          [
            'Target',
            'Pipelining',
            'Round',
            'req/s',
            'p99 ms',
            'server CPU',
            'client CPU',
            'model runs (must be 0)',
            'memo answers/req',
            'Redis hits/req',
            'problems',
          ],
          runs.map((r) => [
            r.target,
            String(r.pipelining),
            String(r.round + 1),
            fmtRps(r.measured.okRps),
            fmtMs(r.measured.p99),
            fmtCores(r.measured.serverCpu),
            fmtCores(r.measured.clientCpu),
            String(r.modelRuns ?? '-'),
            r.memoHitsPerRequest?.toFixed(2) ?? '-',
            r.redisHitsPerRequest?.toFixed(2) ?? '-',
            problems(r.measured) || 'none',
          ]),
          1,
        ),
      ],
    };
  },
});
