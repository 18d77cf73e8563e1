// The benches' one load runner: an autocannon run against one server, with exact latencies and the CPU both
// sides used. A fixed body is handed to autocannon as is, so it builds the request once per connection (the
// cache-hit comparisons against a bare server are client-bound on 2 cores, and the cheapest client moves
// that limit furthest); a body generator builds every request through setupRequest.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { percentile } from './stats.js';

export interface LoadOptions {
  connections: number;
  pipelining: number;
  /** Seconds of warm-up on the same connections, not counted: the measured window starts in steady state. */
  warmupS: number;
  /** Seconds of the measured window (at least). */
  durationS: number;
  /**
   * ...and until at least this many answers came back in it, so that a slow target (a 100-text request can
   * take seconds) still yields numbers in a short run; capped at `maxS` seconds (default durationS + 120).
   */
  minResponses?: number;
  maxS?: number;
  /** Seconds after which a request counts as timed out (an error, not a latency). Default 30. */
  timeoutS?: number;
  path: string;
  /** A fixed body, or a new body per request (unique texts). */
  body: string | (() => string);
  /** The server's process id, to read its CPU time from /proc. */
  serverPid?: number;
  /** Called as the measured window opens and closes (e.g. to scrape the server's /metrics). */
  onWindow?: (edge: 'start' | 'end') => void;
  /** Called for every answer inside the measured window, e.g. to bucket latencies over time (bench:soak). */
  onResponse?: (status: number, ms: number) => void;
}

export interface LoadResult {
  connections: number;
  pipelining: number;
  /** Length of the measured window, in seconds. */
  durationS: number;
  /** Answers of any status that completed inside the window. */
  requests: number;
  ok: number;
  non2xx: number;
  /** Socket errors inside the window, timeouts included. */
  errors: number;
  /** The part of `errors` that are timeouts. */
  timeouts: number;
  /** Answers of any status per second. */
  rps: number;
  /** 2xx answers per second. */
  okRps: number;
  /** Latency of 2xx answers in ms (nearest rank, exact, not autocannon's 1 ms histogram). */
  p50: number;
  p90: number;
  p99: number;
  meanMs: number;
  maxMs: number;
  /** Mean response size on the wire (status line, headers, body). */
  bytesPerResponse: number;
  /** Cores used during the window (CPU seconds / wall seconds); server from /proc (null where there is none). */
  serverCpu: number | null;
  /** This process: autocannon plus anything else the script runs meanwhile (e.g. a metrics scraper). */
  clientCpu: number;
  /** Server CPU time per 2xx answer in microseconds: a cost that does not depend on the client keeping up. */
  serverCpuUsPerRequest: number | null;
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

/**
 * Runs autocannon with POST `body` for `warmupS + durationS` seconds (or longer, see minResponses) on the same
 * connections and reports the answers that complete inside the measured window. Counting completions in a
 * window of a running load avoids both edges of a fresh run: the first answers of a model-bound run arrive
 * only after a full queue's latency, and a stopped run leaves abandoned texts running in the server while
 * the next one starts.
 */
export async function runLoad(baseUrl: string, opts: LoadOptions): Promise<LoadResult> {
  const maxS = opts.maxS ?? opts.durationS + 120;
  const minResponses = opts.minResponses ?? 0;
  const fixed = typeof opts.body === 'string' ? opts.body : undefined;
  const next = typeof opts.body === 'function' ? opts.body : undefined;
  const instance = autocannon({
    url: baseUrl,
    connections: opts.connections,
    pipelining: opts.pipelining,
    // Stopped by the timer below; this is only a backstop.
    duration: opts.warmupS + maxS + 30,
    timeout: opts.timeoutS ?? 30,
    requests: [
      next
        ? { method: 'POST', path: opts.path, setupRequest: (req) => ({ ...req, method: 'POST', path: opts.path, body: next() }) }
        : { method: 'POST', path: opts.path, body: fixed },
    ],
  });
  let counting = false;
  let latencies = new Float64Array(1 << 16);
  let ok = 0;
  let non2xx = 0;
  let bytes = 0;
  let errors = 0;
  let timeouts = 0;
  instance.on('response', (_client: unknown, status: number, resBytes: number, ms: number) => {
    if (!counting) return;
    opts.onResponse?.(status, ms);
    bytes += resBytes;
    if (status < 200 || status > 299) {
      non2xx++;
      return;
    }
    if (ok === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[ok++] = ms;
  });
  // reqError (socket errors and timeouts) is not in bench/lib's autocannon typings.
  (instance as unknown as NodeJS.EventEmitter).on('reqError', (err: Error) => {
    if (!counting) return;
    errors++;
    if (err.message === 'request timed out') timeouts++;
  });
  let wall0 = 0n;
  let wallS = 0;
  let server0: number | undefined;
  let server1: number | undefined;
  let client0 = process.cpuUsage();
  let client = client0;
  const begin = (): void => {
    counting = true;
    wall0 = process.hrtime.bigint();
    server0 = opts.serverPid === undefined ? undefined : processCpuSeconds(opts.serverPid);
    client0 = process.cpuUsage();
    opts.onWindow?.('start');
  };
  const end = (): void => {
    counting = false;
    wallS = Number(process.hrtime.bigint() - wall0) / 1e9;
    server1 = opts.serverPid === undefined ? undefined : processCpuSeconds(opts.serverPid);
    client = process.cpuUsage(client0);
    instance.stop();
    opts.onWindow?.('end');
  };
  const start = setTimeout(begin, opts.warmupS * 1000);
  const poll = setInterval(() => {
    if (!counting) return;
    const s = Number(process.hrtime.bigint() - wall0) / 1e9;
    if ((s >= opts.durationS && ok + non2xx >= minResponses) || s >= maxS) end();
  }, 20);
  try {
    await instance;
  } finally {
    clearTimeout(start);
    clearInterval(poll);
  }
  if (wallS === 0) throw new Error(`autocannon ended before the measured window did (${baseUrl})`);
  const sorted = latencies.subarray(0, ok).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const serverCpuS = server0 !== undefined && server1 !== undefined ? server1 - server0 : undefined;
  const requests = ok + non2xx;
  return {
    connections: opts.connections,
    pipelining: opts.pipelining,
    durationS: wallS,
    requests,
    ok,
    non2xx,
    errors,
    timeouts,
    rps: requests / wallS,
    okRps: ok / wallS,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    meanMs: ok > 0 ? sum / ok : Number.NaN,
    maxMs: ok > 0 ? sorted[ok - 1]! : Number.NaN,
    bytesPerResponse: requests > 0 ? bytes / requests : Number.NaN,
    serverCpu: serverCpuS === undefined ? null : serverCpuS / wallS,
    clientCpu: (client.user + client.system) / 1e6 / wallS,
    serverCpuUsPerRequest: serverCpuS === undefined || ok === 0 ? null : (serverCpuS * 1e6) / ok,
  };
}

/** Non-2xx answers and socket errors (timeouts are among them): a run with any is not a fair comparison. */
export function failures(r: Pick<LoadResult, 'non2xx' | 'errors'>): number {
  return r.non2xx + r.errors;
}

/**
 * What makes a run unusable, or '' when nothing does: failures, or fewer 2xx answers than connections (the
 * server stopped answering without an error the client could see).
 */
export function problems(r: LoadResult): string {
  const out: string[] = [];
  if (failures(r) > 0) out.push(`${failures(r)} failed`);
  if (r.ok < r.connections) out.push(`stalled: ${r.ok} answers on ${r.connections} connections`);
  return out.join(', ');
}
