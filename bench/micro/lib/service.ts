// The service under test as a child process, and the few HTTP calls the micro benchmarks make to it.
import { PREDICT_PATH } from '../../lib/autocannon-runner.js';
import { SERVICE_MAIN_JS, STANDIN_MODEL_DIR } from '../../lib/paths.js';
import { startNodeServer, type ManagedProcess } from '../../lib/processes.js';

export { PREDICT_PATH };
export const HEALTH_PATH = '/project/health';

/**
 * Starts dist/src/main.js with the stand-in model and LOG_LEVEL=warn, plus `env`; resolves once
 * /project/health answers 200 (every worker has loaded and warmed its session).
 */
export function startService(name: string, env: Record<string, string>, nodeArgs: readonly string[] = []): Promise<ManagedProcess> {
  return startNodeServer({
    name,
    nodeArgs,
    script: SERVICE_MAIN_JS,
    env: { MODEL_DIR: STANDIN_MODEL_DIR, LOG_LEVEL: 'warn', ...env },
    healthPath: HEALTH_PATH,
  });
}

/** Starts several servers at once; if one fails, stops the others before throwing. */
export async function startAll(starts: readonly (() => Promise<ManagedProcess>)[], into: ManagedProcess[]): Promise<ManagedProcess[]> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  for (const s of settled) if (s.status === 'fulfilled') into.push(s.value);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ManagedProcess>).value);
}

export interface PostResult {
  status: number;
  /** The exact response body bytes. */
  body: Buffer;
  headers: Headers;
}

/** One POST of `body` as application/json (fetch would otherwise label a string text/plain). */
export async function post(url: string, body: string): Promise<PostResult> {
  const res = await fetch(url + PREDICT_PATH, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

/** Every sample of a Prometheus text exposition, keyed by its name and labels as written (`a_total{x="y"}`). */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const res = await fetch(baseUrl + '/metrics');
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

/** after[key] - before[key], treating a missing sample as 0. */
export function delta(before: Map<string, number>, after: Map<string, number>, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

/** What the model did between two scrapes: runs, texts, and the mean batch size from inf_batch_size. */
export function modelWork(before: Map<string, number>, after: Map<string, number>): { runs: number; texts: number; meanBatch: number } {
  const runs = delta(before, after, 'inf_model_runs_total');
  const texts = delta(before, after, 'inf_inferred_texts_total');
  const count = delta(before, after, 'inf_batch_size_count');
  const sum = delta(before, after, 'inf_batch_size_sum');
  return { runs, texts, meanBatch: count > 0 ? sum / count : Number.NaN };
}

/** Throws with the server's last output if it has exited. */
export function assertAlive(server: ManagedProcess, during: string): void {
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(`${server.name} died during ${during}:\n${server.output().slice(-4000)}`);
  }
}
