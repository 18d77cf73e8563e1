// bench:soak's report: what it sampled over time, reduced to the drift figures its targets are stated in
// (RSS and heap slope after warm-up, last vs second bucket's p99, failures), and rendered as Markdown.
import { fmtMs, mdTable } from './format.js';
import type { RunContext } from './runner.js';
import { percentile } from './stats.js';

/** One scrape of the service (and of Redis when there is one). */
export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  /** The main thread's V8 heap (the workers' heaps show in RSS only). */
  heapUsedMiB: number;
  /** p99 of the event-loop delay since the previous scrape (prom-client resets its histogram on every scrape). */
  eventLoopP99Ms: number;
  activeHandles: number;
  /** Predictions in the in-process tier (inf_cache_memory_entries): it grows to its bound, then stays. */
  memoryTierEntries: number;
  /** Redis INFO memory `used_memory`; null without Redis. */
  redisUsedMiB: number | null;
}

/** The answers of one time bucket (a minute in a full run). */
export interface SoakBucket {
  index: number;
  startS: number;
  ok: number;
  non2xx: number;
  p50: number;
  p99: number;
}

export interface SoakTargets {
  /** Slopes below this, in MiB per minute, count as flat. */
  maxSlopeMiBPerMin: number;
  /** The last bucket's p99 may be at most this multiple of the second's. */
  maxP99Growth: number;
}

export const SOAK_TARGETS: SoakTargets = { maxSlopeMiBPerMin: 1, maxP99Growth: 1.2 };

export interface SoakSummary {
  /** Least-squares slopes over the samples after the first two buckets (warm-up), in MiB per minute. */
  rssSlopeMiBPerMin: number;
  heapSlopeMiBPerMin: number;
  redisSlopeMiBPerMin: number | null;
  p99FirstMs: number;
  p99SecondMs: number;
  p99LastMs: number;
  /** p99 of the last bucket / p99 of the second (the first includes the warm-up). */
  p99LastOverSecond: number;
  requests: number;
  non2xx: number;
  /** Socket errors and timeouts, from the load generator. */
  errors: number;
  pass: { rss: boolean; heap: boolean; p99: boolean; failures: boolean };
}

export interface SoakReport {
  /** The runner's: start, commit, machine, command. */
  context: RunContext;
  finishedAt: string;
  settings: {
    durationS: number;
    bucketS: number;
    sampleS: number;
    connections: number;
    workers: number;
    /** The service's settings given with --env KEY=VALUE. */
    env: string[];
    redis: boolean;
    /** The share of requests that repeat the same body (the rest carry never-seen texts). */
    repeatRate: number;
    seed: number;
  };
  targets: SoakTargets;
  samples: SoakSample[];
  buckets: SoakBucket[];
  summary: SoakSummary;
}

/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Latencies (ms) of 2xx answers and the count of others, per bucket, in the order answers arrive. */
export class BucketRecorder {
  private readonly ok: number[][] = [];
  private readonly non2xx: number[] = [];
  private t0 = performance.now();
  constructor(private readonly bucketS: number) {}

  /** Bucket 0 starts now (the load's measured window opened). */
  start(now = performance.now()): void {
    this.t0 = now;
  }

  record(status: number, ms: number, now = performance.now()): void {
    const i = Math.max(0, Math.floor((now - this.t0) / 1000 / this.bucketS));
    while (this.ok.length <= i) {
      this.ok.push([]);
      this.non2xx.push(0);
    }
    if (status >= 200 && status <= 299) this.ok[i]!.push(ms);
    else this.non2xx[i]!++;
  }

  /** Only the first `count` buckets: answers after the end (the load's last in-flight ones) are dropped. */
  buckets(count: number): SoakBucket[] {
    return Array.from({ length: count }, (_, index) => {
      const sorted = Float64Array.from(this.ok[index] ?? []).sort();
      return {
        index,
        startS: index * this.bucketS,
        ok: sorted.length,
        non2xx: this.non2xx[index] ?? 0,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
      };
    });
  }
}

/** The drift figures of a run; `errors` is the load generator's count of socket errors. */
export function summarizeSoak(
  samples: readonly SoakSample[],
  buckets: readonly SoakBucket[],
  bucketS: number,
  errors: number,
  targets = SOAK_TARGETS,
): SoakSummary {
  const steady = samples.filter((s) => s.t >= 2 * bucketS);
  const perMin = (pick: (s: SoakSample) => number): number => slope(steady.map((s) => [s.t / 60, pick(s)] as const));
  const rssSlope = perMin((s) => s.rssMiB);
  const heapSlope = perMin((s) => s.heapUsedMiB);
  const redisSlope = steady.every((s) => s.redisUsedMiB !== null) && steady.length > 0 ? perMin((s) => s.redisUsedMiB!) : null;
  const p99 = (i: number): number => buckets[i]?.p99 ?? Number.NaN;
  const last = buckets.length - 1;
  const growth = p99(last) / p99(1);
  const non2xx = buckets.reduce((a, b) => a + b.non2xx, 0);
  return {
    rssSlopeMiBPerMin: rssSlope,
    heapSlopeMiBPerMin: heapSlope,
    redisSlopeMiBPerMin: redisSlope,
    p99FirstMs: p99(0),
    p99SecondMs: p99(1),
    p99LastMs: p99(last),
    p99LastOverSecond: growth,
    requests: buckets.reduce((a, b) => a + b.ok + b.non2xx, 0),
    non2xx,
    errors,
    pass: {
      rss: rssSlope < targets.maxSlopeMiBPerMin,
      heap: heapSlope < targets.maxSlopeMiBPerMin,
      p99: growth <= targets.maxP99Growth,
      failures: non2xx === 0 && errors === 0,
    },
  };
}

const mib = (v: number | null): string => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(1));
const signed = (v: number | null): string => (v === null || !Number.isFinite(v) ? 'n/a' : `${v >= 0 ? '+' : ''}${v.toFixed(2)}`);
const verdict = (ok: boolean): string => (ok ? 'pass' : '**FAIL**');

/** The Markdown summary; `chartFile` is the SVG's name, linked relative to the Markdown file. */
export function renderSoakMarkdown(r: SoakReport, chartFile: string): string {
  const { settings: s, summary: m, targets } = r;
  const unit = s.bucketS === 60 ? 'minute' : `${s.bucketS} s bucket`;
  const at = (t: number): SoakSample | undefined => r.samples.findLast((x) => x.t <= t) ?? r.samples[0];
  return [
    `# Soak ${r.context.startedAt.slice(0, 10)} (${r.context.git.sha}${r.context.git.dirty ? ', uncommitted changes' : ''}), ${s.redis ? 'with' : 'without'} Redis`,
    '',
    `![RSS, heap, latency, event-loop delay and Redis memory over the run](${chartFile})`,
    '',
    ...mdTable(
      ['Figure', 'Measured', 'Target', 'Verdict'],
      [
        [
          'RSS slope after 2 buckets',
          `${signed(m.rssSlopeMiBPerMin)} MiB/min`,
          `< ${targets.maxSlopeMiBPerMin} MiB/min`,
          verdict(m.pass.rss),
        ],
        [
          'heap-used slope after 2 buckets',
          `${signed(m.heapSlopeMiBPerMin)} MiB/min`,
          `< ${targets.maxSlopeMiBPerMin} MiB/min`,
          verdict(m.pass.heap),
        ],
        [
          'Redis used_memory slope',
          m.redisSlopeMiBPerMin === null ? 'no Redis' : `${signed(m.redisSlopeMiBPerMin)} MiB/min`,
          'grows with new texts (TTL)',
          '',
        ],
        [
          `p99 first / second / last ${unit}`,
          `${fmtMs(m.p99FirstMs)} / ${fmtMs(m.p99SecondMs)} / ${fmtMs(m.p99LastMs)} ms (last/second ×${m.p99LastOverSecond.toFixed(2)})`,
          `last ≤ ${targets.maxP99Growth}× second`,
          verdict(m.pass.p99),
        ],
        ['non-2xx / socket errors', `${m.non2xx} / ${m.errors} of ${m.requests} answers`, '0', verdict(m.pass.failures)],
      ],
    ),
    '',
    `## Per ${unit}`,
    '',
    ...mdTable(
      [
        'Start',
        'answers',
        'non-2xx',
        'p50 ms',
        'p99 ms',
        'RSS MiB',
        'heap MiB',
        'event-loop p99 ms',
        'handles',
        'LRU entries',
        'Redis MiB',
      ],
      r.buckets.map((b) => {
        const x = at(b.startS + s.bucketS);
        return [
          `${b.startS} s`,
          String(b.ok + b.non2xx),
          String(b.non2xx),
          fmtMs(b.p50),
          fmtMs(b.p99),
          mib(x?.rssMiB ?? null),
          mib(x?.heapUsedMiB ?? null),
          fmtMs(x?.eventLoopP99Ms ?? Number.NaN),
          String(x?.activeHandles ?? 'n/a'),
          String(x?.memoryTierEntries ?? 'n/a'),
          mib(x?.redisUsedMiB ?? null),
        ];
      }),
    ),
    '',
    `${s.connections} closed-loop connections (no think time) for ${s.durationS} s on \`POST /project/bulk-predict\`: ` +
      `${Math.round(s.repeatRate * 100)} % the k6 profile's repeated 3-sentence body, the rest 3 never-seen SST-2 sentences. ` +
      `WORKERS=${s.workers}${s.env.map((e) => ` ${e}`).join('')}, ${s.redis ? 'a private redis-server' : 'no Redis (in-process LRU only)'}; /metrics scraped every ${s.sampleS} s ` +
      '(memory columns: the sample at the end of the bucket). Slopes are least squares over the samples after the first two buckets; while the in-process tier still fills toward ' +
      'its bound (CACHE_LRU_ENTRIES, default 100,000), memory grows with it by design.',
    `Seed ${s.seed}. ${r.context.machine.cpus} × ${r.context.machine.cpuModel}, Node ${r.context.machine.node}, ${r.context.startedAt} to ${r.finishedAt}. Command: \`${r.context.command}\`.`,
    '',
  ].join('\n');
}
