// Closed-loop clients that honour Retry-After, as an HTTP client with backoff (k6 scripts, SDKs with retry
// policies) does: each connection sends a request, and after a 503 waits the Retry-After it was given (plus
// up to 10 % jitter, so refused clients do not return in one wave) before its next request. autocannon
// (bench/lib/load.ts) cannot wait per connection: its refused connections send again at once, which on a
// 2-core machine is mostly a measure of the load generator's own CPU. With `ignoreRetryAfter` the same clients
// send again at once (an attacker's probe); either way the accepted answers' timing headers are kept.
import { Agent, request } from 'node:http';
import { percentile } from './stats.js';

export interface BackoffLoadOptions {
  connections: number;
  /** Seconds before the measured window opens, on the same connections. */
  warmupS: number;
  durationS: number;
  path: string;
  /** A new body per request. */
  body: () => string;
  /** Jitter source, seeded by the caller so that a run can be replayed. */
  random: () => number;
  /** Send again at once after a 503, as clients that ignore Retry-After do. */
  ignoreRetryAfter?: boolean;
  /** Called as the measured window opens and closes (e.g. to scrape the server's /metrics). */
  onWindow?: (edge: 'start' | 'end') => void;
}

export interface BackoffLoadResult {
  durationS: number;
  ok: number;
  /** 503 answers (each followed by a wait of its Retry-After). */
  refused: number;
  /** Answers other than 200 and 503, and socket errors. */
  failed: number;
  /** Refusals without a usable Retry-After header. */
  refusedWithoutRetryAfter: number;
  /** Latency of 200 answers, ms. */
  p50: number;
  p99: number;
  /** x-queue-time of 200 answers (the request's slowest text's wait for a model thread), ms. */
  queueP50: number;
  queueP99: number;
  queueMax: number;
  /** x-inference-time of 200 answers (the longest model run among the request's batches), ms. */
  inferenceP50: number;
  inferenceMax: number;
  /** CPU of this process (the clients) during the window, in cores. */
  clientCpu: number;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  queueMs: number;
  inferenceMs: number;
}

function post(agent: Agent, url: URL, path: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        const header = (name: string) => Number(res.headers[name] ?? Number.NaN);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            queueMs: header('x-queue-time'),
            inferenceMs: header('x-inference-time'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `connections` clients for warmupS + durationS seconds; counts the answers that complete in the window. */
export async function runBackoffLoad(baseUrl: string, opts: BackoffLoadOptions): Promise<BackoffLoadResult> {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const windowStart = performance.now() + opts.warmupS * 1000;
  const windowEnd = windowStart + opts.durationS * 1000;
  const latencies: number[] = [];
  const queueMs: number[] = [];
  const inferenceMs: number[] = [];
  let refused = 0;
  let failed = 0;
  let refusedWithoutRetryAfter = 0;
  let cpu0 = process.cpuUsage();
  const cpuAtWindowStart = setTimeout(
    () => {
      cpu0 = process.cpuUsage();
      opts.onWindow?.('start');
    },
    Math.max(0, windowStart - performance.now()),
  );
  const windowEnded = setTimeout(() => opts.onWindow?.('end'), Math.max(0, windowEnd - performance.now()));
  const client = async (): Promise<void> => {
    while (performance.now() < windowEnd) {
      const sent = performance.now();
      let answer: Answer | undefined;
      try {
        answer = await post(agent, url, opts.path, opts.body());
      } catch {
        answer = undefined;
      }
      const done = performance.now();
      const counted = done >= windowStart && done < windowEnd;
      if (answer?.status === 200) {
        if (counted) {
          latencies.push(done - sent);
          queueMs.push(answer.queueMs);
          inferenceMs.push(answer.inferenceMs);
        }
      } else if (answer?.status === 503) {
        const retryAfterS = Number(answer.retryAfter);
        const valid = answer.retryAfter !== undefined && Number.isInteger(retryAfterS) && retryAfterS >= 0;
        if (counted) {
          refused++;
          if (!valid) refusedWithoutRetryAfter++;
        }
        if (opts.ignoreRetryAfter) continue;
        const waitMs = (valid ? retryAfterS : 1) * 1000 * (1 + 0.1 * opts.random());
        await new Promise((r) => setTimeout(r, Math.min(waitMs, Math.max(0, windowEnd - performance.now()))));
      } else if (counted) {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, client));
  clearTimeout(cpuAtWindowStart);
  clearTimeout(windowEnded);
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  const queue = Float64Array.from(queueMs).sort();
  const inference = Float64Array.from(inferenceMs).sort();
  return {
    durationS: opts.durationS,
    ok: sorted.length,
    refused,
    failed,
    refusedWithoutRetryAfter,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    queueP50: percentile(queue, 50),
    queueP99: percentile(queue, 99),
    queueMax: queue.length > 0 ? queue[queue.length - 1] : Number.NaN,
    inferenceP50: percentile(inference, 50),
    inferenceMax: inference.length > 0 ? inference[inference.length - 1] : Number.NaN,
    clientCpu: (cpu.user + cpu.system) / 1e6 / opts.durationS,
  };
}
