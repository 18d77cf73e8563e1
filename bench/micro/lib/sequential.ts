// One request at a time on one keep-alive connection: the latency of a request that has the service to itself.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentile } from '../../lib/stats.js';
import { PREDICT_PATH } from '../../lib/harness.js';

export interface SequentialResult {
  requests: number;
  /** Client-measured latency, ms. */
  clientP50: number;
  clientP99: number;
  /** The service's own x-total-time and x-inference-time headers, ms. */
  totalP50: number;
  totalP99: number;
  inferenceP50: number;
}

interface Answer {
  ms: number;
  total: number;
  inference: number;
}

function postOnce(agent: Agent, url: URL, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (res.statusCode !== 200) {
            reject(new Error(`POST ${url} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
            return;
          }
          resolve({ ms, total: Number(res.headers['x-total-time']), inference: Number(res.headers['x-inference-time']) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `warmup` then `count` requests of `nextBody()`, each after the previous answer. */
export async function sequentialRequests(
  baseUrl: string,
  nextBody: () => string,
  count: number,
  warmup: number,
): Promise<SequentialResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(PREDICT_PATH, baseUrl);
  try {
    for (let i = 0; i < warmup; i++) await postOnce(agent, url, nextBody());
    const answers: Answer[] = [];
    for (let i = 0; i < count; i++) answers.push(await postOnce(agent, url, nextBody()));
    const sorted = (pick: (a: Answer) => number): Float64Array => Float64Array.from(answers, pick).sort();
    const client = sorted((a) => a.ms);
    const total = sorted((a) => a.total);
    return {
      requests: count,
      clientP50: percentile(client, 50),
      clientP99: percentile(client, 99),
      totalP50: percentile(total, 50),
      totalP99: percentile(total, 99),
      inferenceP50: percentile(
        sorted((a) => a.inference),
        50,
      ),
    };
  } finally {
    agent.destroy();
  }
}
