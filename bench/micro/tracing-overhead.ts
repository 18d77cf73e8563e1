// `npm run bench:tracing`: what OpenTelemetry tracing costs on the cached path. The same service four times
// beside one redis-server: tracing off (the default) and on (every request sampled, spans exported to
// otlp-sink.js, a separate process), each with the response memo (the defaults) and without it (every request
// parsed and looked up, so it also gets a cache.lookup span). Loaded in turns with one cached body.
import { join } from 'node:path';
import {
  type ManagedProcess,
  postPredict,
  PREDICT_PATH,
  REPO_ROOT,
  startAll,
  startNodeServer,
  startRedis,
  startService,
} from '../lib/harness.js';
import { fmtCores, fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { problems, type LoadResult } from '../lib/load.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';
import { median } from '../lib/stats.js';

const BODY = JSON.stringify({ text: ['I love you!', 'I hate you!', 'The movie was fine.'] });
const SINK_JS = join(REPO_ROOT, 'dist', 'bench', 'micro', 'lib', 'otlp-sink.js');
const TARGETS = ['off', 'on', 'off-nomemo', 'on-nomemo'] as const;
type Target = (typeof TARGETS)[number];

defineBench({
  name: 'tracing-overhead',
  title: 'Tracing off vs on, on the cached path',
  usage: `  --connections N     autocannon connections (default 50)
  --duration S        seconds per measured window (default 10)
  --warmup S          seconds of warm-up right before each window (default 3)
  --rounds N          measured runs per target (default 3)`,
  options: { ...valueFlags('connections', 'duration', 'warmup', 'rounds') },
  async run({ values, log, started, track, measure }) {
    const cfg = {
      connections: numberFlag('connections', values.connections, 50),
      durationS: numberFlag('duration', values.duration, 10),
      warmupS: numberFlag('warmup', values.warmup, 3),
      rounds: numberFlag('rounds', values.rounds, 3),
    };
    const redis = await track(startRedis());
    const sink = await track(startNodeServer({ name: 'otlp-sink', script: SINK_JS, healthPath: '/', env: {} }));
    const envOf = (t: Target): Record<string, string> => ({
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      ...(t.startsWith('on') ? { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } : {}),
      ...(t.endsWith('nomemo') ? { RESPONSE_MEMO_ENTRIES: '0' } : {}),
    });
    const servers = await startAll(
      TARGETS.map((t) => () => startService(envOf(t), { name: `service-${t}`, readyTimeoutMs: 300_000 })),
      started,
    );
    const byTarget = Object.fromEntries(TARGETS.map((t, i) => [t, servers[i]!])) as Record<Target, ManagedProcess>;
    // The first POST scores the texts into Redis; two more per service fill its LRU and its memo.
    for (const t of [...TARGETS, ...TARGETS, ...TARGETS]) {
      const r = await postPredict(byTarget[t].url, BODY, { raw: true });
      if (r.status !== 200) throw new Error(`${t} answered ${r.status}: ${r.text}`);
    }
    const spanCount = async () => Number(await (await fetch(`${sink.url}/count`)).text());

    const runs: { target: Target; round: number; load: LoadResult; spansPerRequest?: number }[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      // Alternating order, so a drift in the shared machine's load favours neither side.
      const order = round % 2 === 0 ? [...TARGETS] : [...TARGETS].reverse();
      for (const target of order) {
        const spansBefore = await spanCount();
        const { load } = await measure(
          byTarget[target],
          { connections: cfg.connections, pipelining: 1, warmupS: cfg.warmupS, durationS: cfg.durationS, path: PREDICT_PATH, body: BODY },
          false,
        );
        // Spans of the warm-up and the window, over the requests of both; the exporter drops what overflows its queue.
        const spansPerRequest = target.startsWith('on') ? (await spanCount()) - spansBefore : undefined;
        const requests = load.requests * ((cfg.warmupS + cfg.durationS) / cfg.durationS);
        runs.push({ target, round, load, spansPerRequest: spansPerRequest === undefined ? undefined : spansPerRequest / requests });
        log(
          `round ${round + 1} ${target}: ${fmtRps(load.okRps)} req/s, ${fmtRps(load.serverCpuUsPerRequest ?? Number.NaN)} µs CPU/answer ${problems(load)}`,
        );
      }
    }
    const stats = (target: Target) => {
      const rs = runs.filter((r) => r.target === target);
      return {
        target,
        rps: median(rs.map((r) => r.load.okRps)),
        p99: median(rs.map((r) => r.load.p99)),
        serverCpu: median(rs.map((r) => r.load.serverCpu ?? Number.NaN)),
        cpuUs: median(rs.map((r) => r.load.serverCpuUsPerRequest ?? Number.NaN)),
        spansPerRequest: rs[0]?.spansPerRequest === undefined ? undefined : median(rs.map((r) => r.spansPerRequest!)),
      };
    };
    const summaries = TARGETS.map(stats);
    const offOf = (t: Target) => summaries.find((s) => s.target === t.replace('on', 'off'))!;
    return {
      data: { settings: { ...cfg, body: BODY }, summaries, runs },
      markdown: [
        `Body \`${BODY}\` (all cached), ${cfg.connections} connections, pipelining 1, ${cfg.rounds} rounds of ${cfg.warmupS} s`,
        `warm-up then ${cfg.durationS} s measured, order alternating; "on" is OTEL_EXPORTER_OTLP_ENDPOINT set (always sampled).`,
        'Medians over rounds; CPU µs per answer is server CPU per 2xx answer; ratios are on / off of the same memo setting.',
        '',
        ...mdTable(
          [
            'Target',
            'req/s',
            'on/off req/s',
            'p99 ms',
            'server CPU',
            'CPU µs per answer',
            'on/off CPU per answer',
            '≈ spans exported per request',
          ],
          summaries.map((s) => {
            const off = offOf(s.target);
            const on = s.target.startsWith('on');
            return [
              s.target,
              fmtRps(s.rps),
              on ? `×${(s.rps / off.rps).toFixed(3)}` : '',
              fmtMs(s.p99),
              fmtCores(s.serverCpu),
              s.cpuUs.toFixed(1),
              on ? `×${(s.cpuUs / off.cpuUs).toFixed(3)}` : '',
              s.spansPerRequest?.toFixed(2) ?? '-',
            ];
          }),
          1,
        ),
      ],
    };
  },
});
