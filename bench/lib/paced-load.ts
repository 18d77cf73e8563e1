// A steady light load: one request every `intervalMs`, whatever the answers (an open loop, as independent users
// send), so that its latency is what each request meets and not a client's own backlog. A request still
// outstanding when the next is due does not delay it.
import { Agent, request } from 'node:http';
import { percentile } from './stats.js';

export interface PacedLoadOptions {
  intervalMs: number;
  durationS: number;
  path: string;
  /** A new body per request. */
  body: () => string;
}

export interface PacedLoadResult {
  sent: number;
  ok: number;
  /** Every answer other than 200, and socket errors. */
  failed: number;
  /** Latency of 200 answers, ms. */
  p50: number;
  p99: number;
  max: number;
}

function post(agent: Agent, url: URL, path: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

export async function runPacedLoad(baseUrl: string, opts: PacedLoadOptions): Promise<PacedLoadResult> {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true });
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const end = performance.now() + opts.durationS * 1000;
  for (let due = performance.now(); due < end; due += opts.intervalMs) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    const sent = performance.now();
    pending.push(
      post(agent, url, opts.path, opts.body()).then((status) => {
        if (status === 200) latencies.push(performance.now() - sent);
        else failed++;
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return {
    sent: pending.length,
    ok: latencies.length,
    failed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}
