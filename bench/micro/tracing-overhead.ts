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
} from '../../test/harness.js';
import { scrapeMetrics } from '../../test/metrics-scrape.js';
import { fmtCores, fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { problems, type LoadResult } from '../lib/load.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';
import { median } from '../lib/stats.js';

const BODY = JSON.stringify({ text: ['I love you!', 'I hate you!', 'The movie was fine.'] });
const SINK_JS = join(REPO_ROOT, 'dist', 'bench', 'micro', 'lib', 'otlp-sink.js');
const TARGETS = ['off', 'on', 'off-nomemo', 'on-nomemo'] as const;
/** `base`: another build (--baseline-js, e.g. the commit before tracing) with the defaults, to hold `off` against. */
type Target = (typeof TARGETS)[number] | 'base';
/** What each row's ratio is against: on / off of the same memo setting, off / the baseline build. */
const REFERENCE: Partial<Record<Target, Target>> = { on: 'off', 'on-nomemo': 'off-nomemo', off: 'base' };

defineBench({
  name: 'tracing-overhead',
  title: 'Tracing off vs on, on the cached path',
  usage: `  --connections N     autocannon connections (default 50)
  --duration S        seconds per measured window (default 10)
  --warmup S          seconds of warm-up right before each window (default 3)
  --rounds N          measured runs per target (default 3)
  --baseline-js PATH  also run this build's dist/src/main.js with the defaults (target base), against off
  --targets LIST      only these of off,on,off-nomemo,on-nomemo,base (default all)`,
  options: { ...valueFlags('connections', 'duration', 'warmup', 'rounds', 'baseline-js', 'targets') },
  async run({ values, log, started, track, measure }) {
    const cfg = {
      connections: numberFlag('connections', values.connections, 50),
      durationS: numberFlag('duration', values.duration, 10),
      warmupS: numberFlag('warmup', values.warmup, 3),
      rounds: numberFlag('rounds', values.rounds, 3),
    };
    const baseline = values['baseline-js'] as string | undefined;
    const chosen = values.targets === undefined ? undefined : String(values.targets).split(',');
    const targets = (baseline ? ['base', ...TARGETS] : [...TARGETS]).filter((t) => !chosen || chosen.includes(t)) as Target[];
    if (targets.length === 0) throw new Error(`--targets ${values.targets}: none of ${TARGETS.join(',')}${baseline ? ',base' : ''}`);
    const redis = await track(startRedis());
    // One sink per traced service, so each one's spans per request can be told apart.
    const startSink = () => startNodeServer({ name: 'otlp-sink', script: SINK_JS, healthPath: '/', env: {} });
    const sinks = { on: await track(startSink()), 'on-nomemo': await track(startSink()) } as Partial<Record<Target, ManagedProcess>>;
    const envOf = (t: Target): Record<string, string> => ({
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      ...(sinks[t] ? { OTEL_EXPORTER_OTLP_ENDPOINT: sinks[t].url } : {}),
      ...(t.endsWith('nomemo') ? { RESPONSE_MEMO_ENTRIES: '0' } : {}),
    });
    const servers = await startAll(
      targets.map(
        (t) => () => startService(envOf(t), { name: `service-${t}`, readyTimeoutMs: 300_000, script: t === 'base' ? baseline : undefined }),
      ),
      started,
    );
    const byTarget = Object.fromEntries(targets.map((t, i) => [t, servers[i]!])) as Record<Target, ManagedProcess>;
    // The first POST scores the texts into Redis; two more per service fill its LRU and its memo.
    for (const t of [...targets, ...targets, ...targets]) {
      const r = await postPredict(byTarget[t].url, BODY, { raw: true });
      if (r.status !== 200) throw new Error(`${t} answered ${r.status}: ${r.text}`);
    }
    const runs: { target: Target; round: number; load: LoadResult }[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      // Alternating order, so a drift in the shared machine's load favours neither side.
      const order = round % 2 === 0 ? [...targets] : [...targets].reverse();
      for (const target of order) {
        const { load } = await measure(
          byTarget[target],
          { connections: cfg.connections, pipelining: 1, warmupS: cfg.warmupS, durationS: cfg.durationS, path: PREDICT_PATH, body: BODY },
          false,
        );
        runs.push({ target, round, load });
        log(
          `round ${round + 1} ${target}: ${fmtRps(load.okRps)} req/s, ${fmtRps(load.serverCpuUsPerRequest ?? Number.NaN)} µs CPU/answer ${problems(load)}`,
        );
      }
    }
    // Spans that reached the sink over every prediction the service answered (warm-ups included; the health
    // probes are counted but not traced), once the last batch was exported (every 5 s): below 1 per span kind,
    // the exporter dropped spans its queue could not hold.
    await new Promise((r) => setTimeout(r, 6_000));
    const spansPerRequest = async (t: Target) => {
      if (!sinks[t]) return undefined;
      const spans = Number(await (await fetch(`${sinks[t].url}/count`)).text());
      const samples = await scrapeMetrics(byTarget[t].url);
      const answered = [...samples]
        .filter(([k]) => k.startsWith('inf_http_requests_total{route="bulk-predict",'))
        .reduce((n, [, v]) => n + v, 0);
      return spans / answered;
    };
    const exported = await Promise.all(targets.map(spansPerRequest));
    const stats = (target: Target, i: number) => {
      const rs = runs.filter((r) => r.target === target);
      return {
        target,
        rps: median(rs.map((r) => r.load.okRps)),
        p99: median(rs.map((r) => r.load.p99)),
        serverCpu: median(rs.map((r) => r.load.serverCpu ?? Number.NaN)),
        cpuUs: median(rs.map((r) => r.load.serverCpuUsPerRequest ?? Number.NaN)),
        spansPerRequest: exported[i],
      };
    };
    const summaries = targets.map(stats);
    const referenceOf = (t: Target) => summaries.find((s) => s.target === REFERENCE[t]);
    return {
      data: { settings: { ...cfg, body: BODY }, summaries, runs },
      markdown: [
        `Body \`${BODY}\` (all cached), ${cfg.connections} connections, pipelining 1, ${cfg.rounds} rounds of ${cfg.warmupS} s`,
        `warm-up then ${cfg.durationS} s measured, order alternating; "on" is OTEL_EXPORTER_OTLP_ENDPOINT set (always sampled).`,
        'Medians over rounds; CPU µs per answer is server CPU per 2xx answer; ratios are on / off of the same memo setting,',
        `and off / base${baseline ? ` (base: \`${baseline}\`, the defaults)` : ' (no --baseline-js given)'}.`,
        '',
        ...mdTable(
          [
            'Target',
            'req/s',
            'req/s ratio',
            'p99 ms',
            'server CPU',
            'CPU µs per answer',
            'CPU per answer ratio',
            'spans exported per request',
          ],
          summaries.map((s) => {
            const ref = referenceOf(s.target);
            return [
              s.target,
              fmtRps(s.rps),
              ref ? `×${(s.rps / ref.rps).toFixed(3)}` : '',
              fmtMs(s.p99),
              fmtCores(s.serverCpu),
              s.cpuUs.toFixed(1),
              ref ? `×${(s.cpuUs / ref.cpuUs).toFixed(3)}` : '',
              s.spansPerRequest?.toFixed(2) ?? '-',
            ];
          }),
          1,
        ),
      ],
    };
  },
});
