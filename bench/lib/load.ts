// The benches' one load runner: a load against one server, with exact latencies and the CPU both sides used;
// HTTP through autocannon, any other protocol (gRPC) as closed loops of a call, measured in the same window. A fixed body is handed to autocannon as is, so it builds the request once per connection (the
// cache-hit comparisons against a bare server are client-bound on 2 cores, and the cheapest client moves
// that limit furthest); a body generator builds every request through setupRequest.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { percentile } from './stats.js';

/** What is sent: HTTP POSTs of a body to a path (autocannon), or calls of another protocol (e.g. gRPC). */
export type LoadTarget =
  | {
      path: string;
      /** A fixed body, or a new body per request (unique texts). */
      body: string | (() => string);
      send?: undefined;
    }
  | {
      /**
       * One call, resolving on success and rejecting on a refusal or failure (counted as non-2xx, or as an error
       * when it carries no status). `connections` of them are kept in flight, each started as the last returns.
       */
      send: () => Promise<void>;
      path?: undefined;
    };

export type LoadOptions = LoadTarget & LoadSettings;

export interface LoadSettings {
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
 * Runs the load (autocannon with POST `body`, or closed loops of `send`) for `warmupS + durationS` seconds (or longer, see minResponses) on the same
 * connections and reports the answers that complete inside the measured window. Counting completions in a
 * window of a running load avoids both edges of a fresh run: the first answers of a model-bound run arrive
 * only after a full queue's latency, and a stopped run leaves abandoned texts running in the server while
 * the next one starts.
 */
export async function runLoad(baseUrl: string, opts: LoadOptions): Promise<LoadResult> {
  const window = new MeasuredWindow(opts);
  const driver = opts.send === undefined ? autocannonDriver(baseUrl, opts, window) : callLoopDriver(opts.send, opts, window);
  const maxS = opts.maxS ?? opts.durationS + 120;
  const minResponses = opts.minResponses ?? 0;
  const start = setTimeout(() => window.begin(), opts.warmupS * 1000);
  const poll = setInterval(() => {
    if (!window.counting) return;
    const s = window.elapsedS();
    if ((s >= opts.durationS && window.answers >= minResponses) || s >= maxS) {
      window.end();
      driver.stop();
    }
  }, 20);
  try {
    await driver.done;
  } finally {
    clearTimeout(start);
    clearInterval(poll);
  }
  if (!window.ended) throw new Error(`the load ended before the measured window did (${baseUrl})`);
  return window.result();
}

interface Driver {
  /** Settles once the load has stopped. */
  readonly done: Promise<unknown>;
  stop(): void;
}

/** HTTP POSTs through autocannon. */
function autocannonDriver(baseUrl: string, opts: LoadOptions & { path: string }, window: MeasuredWindow): Driver {
  const fixed = typeof opts.body === 'string' ? opts.body : undefined;
  const next = typeof opts.body === 'function' ? opts.body : undefined;
  const instance = autocannon({
    url: baseUrl,
    connections: opts.connections,
    pipelining: opts.pipelining,
    // Stopped by runLoad's timer; this is only a backstop.
    duration: opts.warmupS + (opts.maxS ?? opts.durationS + 120) + 30,
    timeout: opts.timeoutS ?? 30,
    requests: [
      next
        ? { method: 'POST', path: opts.path, setupRequest: (req) => ({ ...req, method: 'POST', path: opts.path, body: next() }) }
        : { method: 'POST', path: opts.path, body: fixed },
    ],
  });
  instance.on('response', (_client: unknown, status: number, resBytes: number, ms: number) => window.response(status, resBytes, ms));
  // reqError (socket errors and timeouts) is not in bench/lib's autocannon typings.
  (instance as unknown as NodeJS.EventEmitter).on('reqError', (err: Error) => window.error(err.message === 'request timed out'));
  const done = (async () => {
    await instance;
  })();
  return { done, stop: () => instance.stop() };
}

/** `connections` closed loops of `send()`: a protocol autocannon does not speak. */
function callLoopDriver(send: () => Promise<void>, opts: LoadSettings, window: MeasuredWindow): Driver {
  let stopped = false;
  const timeoutMs = (opts.timeoutS ?? 30) * 1000;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        await send();
        window.response(200, 0, performance.now() - t0);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number') window.response(code === 0 ? 200 : 500, 0, performance.now() - t0);
        else window.error(performance.now() - t0 >= timeoutMs);
      }
    }
  };
  return {
    done: Promise.all(Array.from({ length: opts.connections }, loop)),
    stop: () => {
      stopped = true;
    },
  };
}

/** The measured window of a load: what came back inside it, and the CPU both sides used meanwhile. */
class MeasuredWindow {
  counting = false;
  ended = false;
  private latencies = new Float64Array(1 << 16);
  private ok = 0;
  private non2xx = 0;
  private bytes = 0;
  private errors = 0;
  private timeouts = 0;
  private wall0 = 0n;
  private wallS = 0;
  private server0: number | undefined;
  private server1: number | undefined;
  private client0 = process.cpuUsage();
  private client = this.client0;

  constructor(private readonly opts: LoadSettings) {}

  /** Answers of any status so far in the window. */
  get answers(): number {
    return this.ok + this.non2xx;
  }

  elapsedS(): number {
    return Number(process.hrtime.bigint() - this.wall0) / 1e9;
  }

  begin(): void {
    this.counting = true;
    this.wall0 = process.hrtime.bigint();
    this.server0 = this.opts.serverPid === undefined ? undefined : processCpuSeconds(this.opts.serverPid);
    this.client0 = process.cpuUsage();
    this.opts.onWindow?.('start');
  }

  end(): void {
    if (!this.counting) return;
    this.counting = false;
    this.ended = true;
    this.wallS = this.elapsedS();
    this.server1 = this.opts.serverPid === undefined ? undefined : processCpuSeconds(this.opts.serverPid);
    this.client = process.cpuUsage(this.client0);
    this.opts.onWindow?.('end');
  }

  response(status: number, resBytes: number, ms: number): void {
    if (!this.counting) return;
    this.opts.onResponse?.(status, ms);
    this.bytes += resBytes;
    if (status < 200 || status > 299) {
      this.non2xx++;
      return;
    }
    if (this.ok === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.ok++] = ms;
  }

  error(timedOut: boolean): void {
    if (!this.counting) return;
    this.errors++;
    if (timedOut) this.timeouts++;
  }

  result(): LoadResult {
    const { ok, non2xx, wallS } = this;
    const sorted = this.latencies.subarray(0, ok).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    const serverCpuS = this.server0 !== undefined && this.server1 !== undefined ? this.server1 - this.server0 : undefined;
    const requests = ok + non2xx;
    return {
      connections: this.opts.connections,
      pipelining: this.opts.pipelining,
      durationS: wallS,
      requests,
      ok,
      non2xx,
      errors: this.errors,
      timeouts: this.timeouts,
      rps: requests / wallS,
      okRps: ok / wallS,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      meanMs: ok > 0 ? sum / ok : Number.NaN,
      maxMs: ok > 0 ? sorted[ok - 1]! : Number.NaN,
      bytesPerResponse: requests > 0 ? this.bytes / requests : Number.NaN,
      serverCpu: serverCpuS === undefined ? null : serverCpuS / wallS,
      clientCpu: (this.client.user + this.client.system) / 1e6 / wallS,
      serverCpuUsPerRequest: serverCpuS === undefined || ok === 0 ? null : (serverCpuS * 1e6) / ok,
    };
  }
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
