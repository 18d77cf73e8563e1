// One autocannon run of a scenario against one server, reduced to the numbers the report needs.
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import type { Scenario } from './scenarios.js';

export const PREDICT_PATH = '/project/bulk-predict';

export interface Measurement {
  /** Completed requests (any status) per second over the whole run. */
  rps: number;
  /** Latency percentiles, mean and max of 2xx answers, in milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  meanMs: number;
  maxMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Measured duration, in seconds. */
  durationS: number;
  /**
   * CPU used during the run, in cores (CPU seconds / duration): by the server (Linux only, else null) and by
   * the load generator, which shares the machine. A client near 1 core with a server well below its share means
   * the number measures autocannon, not the server.
   */
  serverCpu: number | null;
  clientCpu: number;
}

export interface RunLimits {
  /** The run lasts at least this long, in seconds. */
  durationS: number;
  /**
   * ...and until at least this many answers came back, so that a slow target (a 100-text request can take
   * seconds) still yields numbers in a short run. Capped by `maxS`.
   */
  minResponses?: number;
  /** Hard stop, in seconds (default durationS + 120). */
  maxS?: number;
  /** The server's process id, to measure its CPU time. */
  serverPid?: number;
}

// USER_HZ: 100 on every Linux architecture Node supports.
const CLOCK_TICKS_PER_S = 100;

/** User + system CPU seconds of a process and all its threads, from /proc; undefined where there is no /proc. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): utime is 14th, stime 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Nearest-rank percentile of an ascending array; NaN when it is empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Runs `scenario` against `baseUrl`; each request gets a fresh body from the scenario. */
export async function runScenario(baseUrl: string, scenario: Scenario, limits: RunLimits): Promise<Measurement> {
  const maxS = limits.maxS ?? limits.durationS + 120;
  const instance = autocannon({
    url: baseUrl,
    connections: scenario.connections,
    pipelining: scenario.pipelining,
    duration: maxS,
    // A stop() takes effect at the next sample tick; 100 ms keeps runs close to their nominal length.
    sampleInt: 100,
    // A 100-text request on a loaded peer can take seconds; a timeout would count as an error, not a latency.
    timeout: 60,
    requests: [{
      method: 'POST',
      path: PREDICT_PATH,
      setupRequest: (req) => ({ ...req, method: 'POST', path: PREDICT_PATH, body: scenario.nextBody() }),
    }],
  });
  // autocannon's own histogram has 1 ms resolution, too coarse for cache hits; keep the exact times.
  let latencies = new Float64Array(4096);
  let n2xx = 0;
  let responses = 0;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    responses++;
    if (status < 200 || status > 299) return;
    if (n2xx === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[n2xx++] = ms;
  });
  const started = Date.now();
  const serverCpu0 = limits.serverPid === undefined ? undefined : processCpuSeconds(limits.serverPid);
  const clientCpu0 = process.cpuUsage();
  const minResponses = limits.minResponses ?? 0;
  const poll = setInterval(() => {
    if (Date.now() - started >= limits.durationS * 1000 && responses >= minResponses) instance.stop();
  }, 50);
  let result: autocannon.Result;
  try {
    result = await instance;
  } finally {
    clearInterval(poll);
  }
  const wallS = (Date.now() - started) / 1000;
  const serverCpu1 = limits.serverPid === undefined ? undefined : processCpuSeconds(limits.serverPid);
  const clientCpu = process.cpuUsage(clientCpu0);
  const sorted = latencies.subarray(0, n2xx).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const elapsed = result.duration > 0 ? result.duration : limits.durationS;
  return {
    rps: result.requests.total / elapsed,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    meanMs: n2xx > 0 ? sum / n2xx : Number.NaN,
    maxMs: n2xx > 0 ? sorted[n2xx - 1]! : Number.NaN,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: elapsed,
    serverCpu: serverCpu0 !== undefined && serverCpu1 !== undefined ? (serverCpu1 - serverCpu0) / wallS : null,
    clientCpu: (clientCpu.user + clientCpu.system) / 1e6 / wallS,
  };
}
