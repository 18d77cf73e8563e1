// Issues 3 and 16: the fully cached path against the framework's own ceiling. One run starts a private
// redis-server, the service four times (Redis + in-process LRU + response memo, the normal case; Redis only,
// CACHE_LRU_ENTRIES=0, so every request does one MGET; and, as diagnostics, the normal case with metrics and
// timing headers off, and with the response memo off, so every request is parsed and looked up) and a bare
// uWebSockets.js server that answers the service's exact bytes, then loads them in turns with the same body.
// Targets: the cached path reaches >= 80% of the bare server's req/s (issue 3) and costs <= 1.2x its server
// CPU per answer (issue 16).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  assertAlive,
  delta,
  HEALTH_PATH,
  type ManagedProcess,
  modelWork,
  postPredict,
  PREDICT_PATH,
  REPO_ROOT,
  scrapeMetrics,
  startAll,
  startNodeServer,
  startRedis,
  startService,
} from '../lib/harness.js';
import { fmtCores, fmtMs, fmtPct, fmtRps, mdTable } from '../lib/format.js';
import { failures, problems, runLoad, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import {
  COMMON_OPTIONS,
  COMMON_USAGE,
  contextLines,
  endRun,
  listFlag,
  numberFlag,
  say,
  startRun,
  writeResults,
} from './lib/run-context.js';

const NAME = 'cached-vs-bare';
const BODY = JSON.stringify({ text: ['I love you!', 'I hate you!', 'The movie was fine.'] });
const DISTINCT_TEXTS = 3;
const TARGET = 0.8;
/** Issue 16: service CPU per answer / bare CPU per answer. */
const CPU_TARGET = 1.2;
const BARE_JS = join(REPO_ROOT, 'dist', 'bench', 'micro', 'bare-server.js');

const USAGE = `Usage: node dist/bench/micro/${NAME}.js [options]

  --connections N     autocannon connections (default 50)
  --pipelining LIST   pipelining factors, each a separate set of rounds (default 1,10)
  --duration S        seconds per measured run (default 10)
  --warmup S          seconds of warm-up right before each measured run (default 3)
  --rounds N          measured runs per target and pipelining factor (default 2)
  --workers N         WORKERS of the service (default 1: the cached path never reaches a worker)
  --cpu-prof DIR      write V8 CPU profiles of the normal-case service, the memo-off service and the bare
                      server under DIR/<target> (node --cpu-prof; summarize with
                      node dist/bench/micro/cpuprofile-summary.js DIR/<target>/<largest file>)
${COMMON_USAGE}`;

type TargetKey = 'lru' | 'redis' | 'lean' | 'nomemo' | 'bare';
const TARGET_LABELS: Record<TargetKey, string> = {
  lru: 'service, Redis + in-process LRU + response memo (the defaults)',
  lean: 'diagnostic: as above with METRICS_ENABLED=false TIMING_HEADERS=false',
  nomemo: 'diagnostic: as above with RESPONSE_MEMO_ENTRIES=0 (parse, validate, LRU lookups)',
  redis: 'service, Redis only (CACHE_LRU_ENTRIES=0: one MGET per request)',
  bare: 'bare uWebSockets.js, same response bytes',
};

interface RunRecord {
  target: TargetKey;
  pipelining: number;
  round: number;
  measured: LoadResult;
  /** Service only: what its /metrics counted during the measured run. */
  modelRuns?: number;
  memoryHitsPerRequest?: number;
  memoHitsPerRequest?: number;
  redisHitsPerRequest?: number;
  missesPerRequest?: number;
}

interface Summary {
  target: TargetKey;
  pipelining: number;
  rps: number;
  p50: number;
  p99: number;
  serverCpu: number;
  clientCpu: number;
  serverCpuUsPerRequest: number;
  bytesPerResponse: number;
  failed: number;
  /** service / bare, medians over rounds. */
  rpsOfBare?: number;
  /** bare CPU per request / service CPU per request: the share of the bare server's efficiency. */
  cpuEfficiencyOfBare?: number;
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
      workers: { type: 'string' },
      'cpu-prof': { type: 'string' },
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
    pipelining: listFlag('pipelining', values.pipelining, [1, 10]),
    durationS: numberFlag('duration', values.duration, 10),
    warmupS: numberFlag('warmup', values.warmup, 3),
    rounds: numberFlag('rounds', values.rounds, 2),
    workers: numberFlag('workers', values.workers, 1),
  };
  if (!existsSync(BARE_JS)) throw new Error(`${BARE_JS} is missing: run npx tsc -p tsconfig.json`);
  const maxLoad = values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false);
  const ctx = await startRun(NAME, argv, maxLoad, numberFlag('max-wait', values['max-wait'], 600));
  const log = (line: string): void => say(NAME, line);

  // Profiling slows the profiled servers down alike; the ratios of such a run are not the results.
  const profileDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']);
  const profiled = (target: string): string[] =>
    profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, target)}`];

  const started: ManagedProcess[] = [];
  try {
    const redis = await startRedis();
    started.push(redis);
    const serviceEnv = { REDIS_URL: redis.url, WORKERS: String(cfg.workers) };
    const [lru, redisOnly, lean, noMemo] = await startAll(
      [
        () => startService(serviceEnv, { name: 'service-lru', nodeArgs: profiled('lru') }),
        () => startService({ ...serviceEnv, CACHE_LRU_ENTRIES: '0' }, { name: 'service-redis-only' }),
        () => startService({ ...serviceEnv, METRICS_ENABLED: 'false', TIMING_HEADERS: 'false' }, { name: 'service-lean' }),
        () => startService({ ...serviceEnv, RESPONSE_MEMO_ENTRIES: '0' }, { name: 'service-no-memo', nodeArgs: profiled('nomemo') }),
      ],
      started,
    );

    // The first POST runs the model and writes Redis; the other service then finds the texts in Redis.
    const first = await postPredict(lru!.url, BODY, { raw: true });
    if (first.status !== 200) throw new Error(`warming POST answered ${first.status}: ${first.text}`);
    const fromRedis = await postPredict(redisOnly!.url, BODY, { raw: true });
    const again = await postPredict(lru!.url, BODY, { raw: true });
    const leanAnswer = await postPredict(lean!.url, BODY, { raw: true });
    const noMemoAnswer = await postPredict(noMemo!.url, BODY, { raw: true });
    // The third POST is answered from the response memo, the second entered it.
    const memoAnswer = await postPredict(lru!.url, BODY, { raw: true });
    for (const [what, r] of [
      ['Redis-only service', fromRedis],
      ['LRU service (second POST)', again],
      ['LRU service (memo)', memoAnswer],
      ['metrics-off service', leanAnswer],
      ['memo-off service', noMemoAnswer],
    ] as const) {
      if (r.status !== 200 || r.text !== first.text) throw new Error(`${what} answered ${r.status} ${r.text}, not the first answer`);
      if (r.headers.get('x-cache') !== 'hit') throw new Error(`${what} answered x-cache ${r.headers.get('x-cache')}, expected hit`);
    }
    // The bare server echoes the service's header set with fixed values, so both answers are the same size.
    const headerNames = ['x-request-id', 'x-cache', 'x-queue-time', 'x-inference-time', 'x-total-time'];
    const bareHeaders = headerNames.map((n) => [n, again.headers.get(n) ?? ''] as const).filter(([, v]) => v !== '');
    const [bare] = await startAll(
      [
        () =>
          startNodeServer({
            name: 'bare',
            script: BARE_JS,
            healthPath: HEALTH_PATH,
            env: { BARE_BODY_B64: Buffer.from(first.text).toString('base64'), BARE_HEADERS: JSON.stringify(bareHeaders) },
            nodeArgs: profiled('bare'),
          }),
      ],
      started,
    );
    const bareAnswer = await postPredict(bare!.url, BODY, { raw: true });
    if (bareAnswer.text !== first.text) throw new Error('the bare server does not answer the captured bytes');
    log(
      `redis ${redis.url}; service (LRU) ${lru!.url}; service (Redis only) ${redisOnly!.url}; service (metrics off) ${lean!.url}; service (memo off) ${noMemo!.url}; bare ${bare!.url}`,
    );
    log(`response body: ${Buffer.byteLength(first.text)} bytes`);

    const servers: Record<TargetKey, ManagedProcess> = { lru: lru!, redis: redisOnly!, lean: lean!, nomemo: noMemo!, bare: bare! };
    const runs: RunRecord[] = [];
    for (const [pi, pipelining] of cfg.pipelining.entries()) {
      for (let round = 0; round < cfg.rounds; round++) {
        // Alternate who goes first, so a drift in the shared machine's load does not favour one target.
        const order: TargetKey[] =
          (pi + round) % 2 === 0 ? ['lru', 'redis', 'lean', 'nomemo', 'bare'] : ['bare', 'nomemo', 'lean', 'redis', 'lru'];
        for (const target of order.filter((t) => t !== 'redis' || pipelining === 1)) {
          const server = servers[target];
          let before: Promise<Map<string, number>> | undefined;
          let after: Promise<Map<string, number>> | undefined;
          const measured = await runLoad(server.url, {
            connections: cfg.connections,
            pipelining,
            warmupS: cfg.warmupS,
            durationS: cfg.durationS,
            path: PREDICT_PATH,
            body: BODY,
            serverPid: server.child.pid,
            // The metrics-off service has no /metrics to read.
            onWindow:
              target === 'bare' || target === 'lean'
                ? undefined
                : (edge) => {
                    if (edge === 'start') before = scrapeMetrics(server.url);
                    else after = scrapeMetrics(server.url);
                  },
          });
          assertAlive(server, `${target} pipelining ${pipelining}`);
          const record: RunRecord = { target, pipelining, round, measured };
          if (before && after) {
            const [b, a] = await Promise.all([before, after]);
            const perRequest = (key: string): number => delta(b, a, `inf_cache_lookups_total{result="${key}"}`) / measured.ok;
            record.modelRuns = modelWork(b, a).runs;
            record.memoryHitsPerRequest = perRequest('memory_hit');
            record.memoHitsPerRequest = delta(b, a, 'inf_response_memo_hits_total') / measured.ok;
            record.redisHitsPerRequest = perRequest('redis_hit');
            record.missesPerRequest = perRequest('miss');
          }
          runs.push(record);
          log(
            `p${pipelining} round ${round + 1} ${target.padEnd(5)}: ${fmtRps(measured.okRps)} req/s, p50 ${fmtMs(measured.p50)} ms, ` +
              `p99 ${fmtMs(measured.p99)} ms, CPU server ${fmtCores(measured.serverCpu)} client ${fmtCores(measured.clientCpu)}` +
              (problems(measured) ? `, ${problems(measured).toUpperCase()}` : '') +
              (record.modelRuns ? `, ${record.modelRuns} MODEL RUNS (not fully cached)` : ''),
          );
        }
      }
    }
    endRun(ctx);

    const summaries = summarize(runs, cfg.pipelining);
    const markdown = render(ctx, cfg, Buffer.byteLength(first.text), summaries, runs);
    const base = await writeResults(ctx, values.out, { settings: { ...cfg, body: BODY }, summaries, runs }, markdown);
    process.stdout.write('\n' + markdown + '\n');
    log(`wrote ${base}.{json,md}`);
  } finally {
    await Promise.all(started.reverse().map((p) => p.stop()));
  }
}

function summarize(runs: readonly RunRecord[], pipelinings: readonly number[]): Summary[] {
  const out: Summary[] = [];
  for (const pipelining of pipelinings) {
    const stats = (target: TargetKey): Summary => {
      const rs = runs.filter((r) => r.target === target && r.pipelining === pipelining).map((r) => r.measured);
      return {
        target,
        pipelining,
        rps: median(rs.map((r) => r.okRps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        serverCpu: median(rs.map((r) => r.serverCpu ?? Number.NaN)),
        clientCpu: median(rs.map((r) => r.clientCpu)),
        serverCpuUsPerRequest: median(rs.map((r) => r.serverCpuUsPerRequest ?? Number.NaN)),
        bytesPerResponse: median(rs.map((r) => r.bytesPerResponse)),
        failed: rs.reduce((n, r) => n + failures(r), 0),
      };
    };
    const bare = stats('bare');
    for (const target of pipelining === 1 ? (['lru', 'redis', 'lean', 'nomemo'] as const) : (['lru', 'lean', 'nomemo'] as const)) {
      const s = stats(target);
      s.rpsOfBare = s.rps / bare.rps;
      s.cpuEfficiencyOfBare = bare.serverCpuUsPerRequest / s.serverCpuUsPerRequest;
      out.push(s);
    }
    out.push(bare);
  }
  return out;
}

function render(
  ctx: Parameters<typeof contextLines>[0],
  cfg: { connections: number; durationS: number; warmupS: number; rounds: number; workers: number },
  bodyBytes: number,
  summaries: readonly Summary[],
  runs: readonly RunRecord[],
): string {
  const diagnostic = (s: Summary): boolean => s.target === 'lean' || s.target === 'nomemo';
  const ratioRows = summaries
    .filter((s) => s.rpsOfBare !== undefined)
    .map((s) => [
      TARGET_LABELS[s.target],
      String(s.pipelining),
      fmtPct(s.rpsOfBare!),
      diagnostic(s) ? 'not a target' : s.rpsOfBare! >= TARGET ? 'met' : 'MISSED',
      fmtPct(s.cpuEfficiencyOfBare!),
      `×${(1 / s.cpuEfficiencyOfBare!).toFixed(2)}`,
      s.target !== 'lru' ? 'not a target' : 1 / s.cpuEfficiencyOfBare! <= CPU_TARGET ? 'met' : 'MISSED',
    ]);
  const rows = summaries.map((s) => [
    TARGET_LABELS[s.target],
    String(s.pipelining),
    fmtRps(s.rps),
    fmtMs(s.p50),
    fmtMs(s.p99),
    fmtCores(s.serverCpu),
    fmtCores(s.clientCpu),
    fmtRps(s.serverCpuUsPerRequest),
    String(Math.round(s.bytesPerResponse)),
    String(s.failed),
  ]);
  const roundRows = runs.map((r) => [
    r.target,
    String(r.pipelining),
    String(r.round + 1),
    fmtRps(r.measured.okRps),
    fmtMs(r.measured.p99),
    fmtCores(r.measured.serverCpu),
    fmtCores(r.measured.clientCpu),
    r.modelRuns === undefined ? '-' : String(r.modelRuns),
    r.memoryHitsPerRequest === undefined ? '-' : r.memoryHitsPerRequest.toFixed(2),
    r.memoHitsPerRequest === undefined ? '-' : r.memoHitsPerRequest.toFixed(2),
    r.redisHitsPerRequest === undefined ? '-' : r.redisHitsPerRequest.toFixed(2),
    problems(r.measured) || 'none',
  ]);
  const bareClient = median(summaries.filter((s) => s.target === 'bare').map((s) => s.clientCpu));
  return [
    ...contextLines(ctx, 'Cached path vs a bare uWebSockets.js server (issues 3 and 16)'),
    ...mdTable(
      ['Setting', 'Value'],
      [
        ['body', `\`${BODY}\` (${DISTINCT_TEXTS} distinct texts, all cached), no Content-Type header; answer ${bodyBytes} bytes of body`],
        ['load', `autocannon ${cfg.connections} connections, POST /project/bulk-predict, in the script's own process`],
        [
          'runs',
          `${cfg.rounds} rounds per target and pipelining factor; each run is ${cfg.warmupS} s of warm-up then a ${cfg.durationS} s measured window on the same connections; the order alternates per round`,
        ],
        [
          'service',
          `dist/src/main.js, WORKERS=${cfg.workers}, REDIS_URL=<private redis-server>, METRICS_ENABLED and TIMING_HEADERS at their defaults (true), LOG_LEVEL=warn`,
        ],
        ['bare', 'dist/bench/micro/bare-server.js: reads the body with onData, answers the captured bytes and the same header names'],
      ],
      2,
    ),
    '',
    `## Ratio to the bare server (targets: >= ${fmtPct(TARGET)} of its req/s; <= ×${CPU_TARGET} its server CPU per answer)`,
    '',
    ...mdTable(
      [
        'Target',
        'Pipelining',
        'req/s of bare',
        `>= ${fmtPct(TARGET)}`,
        'CPU per request, bare / service',
        'CPU per answer, service / bare',
        `<= ×${CPU_TARGET}`,
      ],
      ratioRows,
      1,
    ),
    '',
    'Medians over rounds. "CPU per request, bare / service" compares server CPU time per answer, which does not',
    'depend on whether the load generator kept up.',
    bareClient >= 0.85
      ? `The load generator used ${fmtCores(bareClient)} cores against the bare server: on 2 shared cores that run is bounded by the client, so the bare req/s is a floor of uWS's ceiling and the req/s ratio is optimistic.`
      : '',
    '',
    'The Redis-only service runs with pipelining 1 only. uWebSockets.js never answers a pipelined request whose',
    'answer is deferred past the tick it arrived in (here, by the Redis round trip): two pipelined POSTs on one',
    'connection with CACHE_LRU_ENTRIES=0 get zero bytes back (upstream: uNetworking/uWebSockets.js#277, wontfix).',
    'In-process LRU hits are answered within the same tick, so they pipeline; so does the bare server.',
    '',
    '## Medians',
    '',
    ...mdTable(
      ['Target', 'Pipelining', 'req/s', 'p50 ms', 'p99 ms', 'server CPU', 'client CPU', 'server CPU µs/req', 'bytes/answer', 'failed'],
      rows,
      1,
    ),
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
        'model runs',
        'memory hits/req',
        'memo hits/req',
        'Redis hits/req',
        'problems',
      ],
      roundRows,
      1,
    ),
    '',
    'CPU is in cores (CPU seconds per second of the run). "model runs" must be 0: every text was a cache hit.',
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`[${NAME}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
