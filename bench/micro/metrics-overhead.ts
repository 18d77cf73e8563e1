// Issue 5: what metrics cost on the cheapest path. The service twice, side by side: metrics and timing
// headers on (while a scraper reads /metrics every second, as Prometheus would) and both off. Load: the
// same all-cached body (in-process LRU hits, no Redis), in alternating rounds.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { assertAlive, type ManagedProcess, postPredict, PREDICT_PATH, startAll, startService } from '../lib/harness.js';
import { fmtCores, fmtMs, fmtPct, fmtRatio, fmtRps, mdTable } from '../lib/format.js';
import { problems, runLoad, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import {
  COMMON_OPTIONS,
  COMMON_USAGE,
  contextLines,
  endRun,
  numberFlag,
  say,
  startRun,
  writeResults,
  type RunContext,
} from './lib/run-context.js';

const NAME = 'metrics-overhead';
const BODY = JSON.stringify({ text: ['I love you!', 'I hate you!', 'The movie was fine.'] });

const USAGE = `Usage: node dist/bench/micro/${NAME}.js [options]

  --connections N     autocannon connections (default 50)
  --pipelining N      pipelining factor (default 1)
  --duration S        measured seconds per run (default 10)
  --warmup S          warm-up seconds per run, same connections (default 3)
  --rounds N          runs per variant; the order alternates (default 2)
  --scrape-every MS   scrape interval of /metrics during the metrics-on runs (default 1000)
  --workers N         WORKERS of both services (default 1: the cached path never reaches a worker)
${COMMON_USAGE}`;

type VariantKey = 'on' | 'off';
const LABELS: Record<VariantKey, string> = {
  on: 'METRICS_ENABLED=true TIMING_HEADERS=true, scraped',
  off: 'METRICS_ENABLED=false TIMING_HEADERS=false',
};

interface RunRecord {
  variant: VariantKey;
  round: number;
  load: LoadResult;
  /** Scrapes made during the run (warm-up included), their median time and the exposition's size. */
  scrapes: number;
  scrapeP50Ms: number;
  scrapeBytes: number;
}

/** GET /metrics every `everyMs` until stopped; the scrapes' durations and the last body size. */
function startScraper(baseUrl: string, everyMs: number): () => Promise<{ times: number[]; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  let failure: Error | undefined;
  // Scrapes are chained, as a scraper waits for one answer before the next, and a failure is kept for stop().
  let chain: Promise<void> = Promise.resolve();
  const scrape = async (): Promise<void> => {
    const t0 = performance.now();
    const res = await fetch(baseUrl + '/metrics');
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    times.push(performance.now() - t0);
    bytes = Buffer.byteLength(text);
  };
  const timer = setInterval(() => {
    chain = chain.then(scrape).catch((err: unknown) => {
      failure ??= err as Error;
    });
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await chain;
    if (failure) throw failure;
    return { times, bytes };
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string' },
      pipelining: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      'scrape-every': { type: 'string' },
      workers: { type: 'string' },
      ...COMMON_OPTIONS,
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const cfg = {
    connections: numberFlag('connections', values.connections, 50),
    pipelining: numberFlag('pipelining', values.pipelining, 1),
    durationS: numberFlag('duration', values.duration, 10),
    warmupS: numberFlag('warmup', values.warmup, 3),
    rounds: numberFlag('rounds', values.rounds, 2),
    scrapeEveryMs: numberFlag('scrape-every', values['scrape-every'], 1000),
    workers: numberFlag('workers', values.workers, 1),
  };
  const maxLoad = values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false);
  const ctx = await startRun(NAME, argv, maxLoad, numberFlag('max-wait', values['max-wait'], 600));
  const log = (line: string): void => say(NAME, line);

  const started: ManagedProcess[] = [];
  try {
    const common = { WORKERS: String(cfg.workers) };
    const [on, off] = await startAll(
      [
        () => startService({ ...common, METRICS_ENABLED: 'true', TIMING_HEADERS: 'true' }, { name: 'service-metrics-on' }),
        () => startService({ ...common, METRICS_ENABLED: 'false', TIMING_HEADERS: 'false' }, { name: 'service-metrics-off' }),
      ],
      started,
    );
    // Fill each in-process cache, and check that each variant is what it claims to be.
    const [onAnswer, offAnswer] = await Promise.all([
      postPredict(on!.url, BODY, { raw: true }),
      postPredict(off!.url, BODY, { raw: true }),
    ]);
    if (onAnswer.status !== 200 || offAnswer.status !== 200) throw new Error('a warming POST failed');
    if (!onAnswer.headers.has('x-total-time') || offAnswer.headers.has('x-total-time'))
      throw new Error('timing headers are not on/off as configured');
    const offMetrics = await fetch(off!.url + '/metrics');
    await offMetrics.body?.cancel();
    if (offMetrics.status !== 404) throw new Error(`GET /metrics on the metrics-off service answered ${offMetrics.status}, expected 404`);
    log(`metrics on: ${on!.url}; metrics off: ${off!.url}`);

    const servers: Record<VariantKey, ManagedProcess> = { on: on!, off: off! };
    const runs: RunRecord[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      for (const variant of (round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as VariantKey[]) {
        const server = servers[variant];
        const stopScraper = variant === 'on' ? startScraper(server.url, cfg.scrapeEveryMs) : undefined;
        let load: LoadResult;
        let scraped: { times: number[]; bytes: number } | undefined;
        try {
          load = await runLoad(server.url, {
            connections: cfg.connections,
            pipelining: cfg.pipelining,
            warmupS: cfg.warmupS,
            durationS: cfg.durationS,
            path: PREDICT_PATH,
            body: BODY,
            serverPid: server.child.pid,
          });
        } finally {
          scraped = await stopScraper?.();
        }
        assertAlive(server, `${variant} round ${round + 1}`);
        const times = (scraped?.times ?? []).sort((a, b) => a - b);
        runs.push({ variant, round, load, scrapes: times.length, scrapeP50Ms: median(times), scrapeBytes: scraped?.bytes ?? 0 });
        log(
          `round ${round + 1} metrics ${variant.padEnd(3)}: ${fmtRps(load.okRps)} req/s, p50 ${fmtMs(load.p50)} ms, p99 ${fmtMs(load.p99)} ms, ` +
            `server ${fmtRps(load.serverCpuUsPerRequest ?? Number.NaN)} µs CPU/req, client ${fmtCores(load.clientCpu)}` +
            (times.length > 0 ? `, ${times.length} scrapes (p50 ${fmtMs(median(times))} ms)` : '') +
            (problems(load) ? `, ${problems(load).toUpperCase()}` : ''),
        );
      }
    }
    endRun(ctx);

    const markdown = render(ctx, cfg, runs);
    const base = await writeResults(ctx, values.out, { settings: { ...cfg, body: BODY }, runs }, markdown);
    process.stdout.write('\n' + markdown + '\n');
    log(`wrote ${base}.{json,md}`);
  } finally {
    await Promise.all(started.reverse().map((p) => p.stop()));
  }
}

function render(
  ctx: RunContext,
  cfg: {
    connections: number;
    pipelining: number;
    durationS: number;
    warmupS: number;
    rounds: number;
    scrapeEveryMs: number;
    workers: number;
  },
  runs: readonly RunRecord[],
): string {
  const of = (v: VariantKey, pick: (r: RunRecord) => number): number => median(runs.filter((r) => r.variant === v).map(pick));
  const measures: [string, (r: RunRecord) => number, (x: number) => string][] = [
    ['req/s', (r) => r.load.okRps, fmtRps],
    ['p50 ms', (r) => r.load.p50, fmtMs],
    ['p99 ms', (r) => r.load.p99, fmtMs],
    ['server CPU µs per request', (r) => r.load.serverCpuUsPerRequest ?? Number.NaN, fmtRps],
    ['server CPU (cores)', (r) => r.load.serverCpu ?? Number.NaN, fmtCores],
    ['client CPU (cores)', (r) => r.load.clientCpu, fmtCores],
    ['bytes per answer', (r) => r.load.bytesPerResponse, (x) => String(Math.round(x))],
  ];
  const rows = measures.map(([label, pick, fmt]) => [
    label,
    fmt(of('on', pick)),
    fmt(of('off', pick)),
    fmtRatio(of('on', pick) / of('off', pick)),
  ]);
  const rpsCost = 1 - of('on', (r) => r.load.okRps) / of('off', (r) => r.load.okRps);
  const cpuCost =
    of('on', (r) => r.load.serverCpuUsPerRequest ?? Number.NaN) / of('off', (r) => r.load.serverCpuUsPerRequest ?? Number.NaN) - 1;
  const onRuns = runs.filter((r) => r.variant === 'on');
  const roundRows = runs.map((r) => [
    String(r.round + 1),
    r.variant,
    fmtRps(r.load.okRps),
    fmtMs(r.load.p50),
    fmtMs(r.load.p99),
    fmtRps(r.load.serverCpuUsPerRequest ?? Number.NaN),
    fmtCores(r.load.clientCpu),
    r.scrapes > 0 ? `${r.scrapes} × ${fmtMs(r.scrapeP50Ms)} ms` : '-',
    problems(r.load) || 'none',
  ]);
  return [
    ...contextLines(ctx, 'Metrics on vs off on the cached path (issue 5)'),
    ...mdTable(
      ['Setting', 'Value'],
      [
        ['body', `\`${BODY}\`, every text an in-process LRU hit (no REDIS_URL), no Content-Type header`],
        [
          'load',
          `autocannon in the bench process, ${cfg.connections} connections, pipelining ${cfg.pipelining}; each run ${cfg.warmupS} s warm-up then a ${cfg.durationS} s measured window`,
        ],
        ['services', `dist/src/main.js WORKERS=${cfg.workers} LOG_LEVEL=warn, twice side by side: ${LABELS.on} / ${LABELS.off}`],
        ['scraper', `GET /metrics every ${cfg.scrapeEveryMs} ms during the metrics-on runs (warm-up included), from the bench process`],
        ['rounds', `${cfg.rounds} per variant, alternating (on, off, then off, on, ...); medians reported`],
      ],
      2,
    ),
    '',
    '## Medians over rounds',
    '',
    ...mdTable(['Measure', 'metrics on', 'metrics off', 'on / off'], rows, 1),
    '',
    `Overhead of metrics + timing headers: ${fmtPct(rpsCost)} fewer req/s, ${fmtPct(cpuCost)} more server CPU per request` +
      ` (the CPU figure does not depend on whether the client kept up). A /metrics scrape took ${fmtMs(median(onRuns.map((r) => r.scrapeP50Ms)))} ms` +
      ` (median) and returned ${Math.round(median(onRuns.map((r) => r.scrapeBytes)) / 1024)} KiB.`,
    'A difference smaller than the spread between rounds of the same variant (below) is noise, not overhead.',
    '',
    '## Every measured run',
    '',
    ...mdTable(['Round', 'Metrics', 'req/s', 'p50 ms', 'p99 ms', 'server µs/req', 'client CPU', 'scrapes', 'problems'], roundRows, 2),
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`[${NAME}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
