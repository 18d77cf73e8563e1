// Shared by the tests: a real redis-server per test file, and the real service in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort, waitFor } from '../dist/bench/lib/processes.js';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The stand-in model that tests, benches and CI use (see its README). */
export const STANDIN_MODEL_DIR = resolve(repoRoot, '..', 'shared', 'models', 'distilbert-sst2-standin');
export const SST2_DEV_TSV = resolve(repoRoot, '..', 'shared', 'data', 'sst2', 'dev.tsv');
export const MAIN_JS = join(repoRoot, 'dist', 'src', 'main.js');

// The bench's process helpers serve the tests as well.
export { freePort, waitFor };

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, e.g. after a test killed it. */
  restart(): Promise<void>;
}

/** Starts a private redis-server on a free port, without persistence; never uses a server left running. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'], { stdio: 'ignore' });
    await waitFor(async () => (await redisPing(port)) === '+PONG', 10_000, `redis-server on port ${port}`);
    return child;
  };
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    child: await launch(),
    async stop() {
      if (server.child.exitCode !== null || server.child.signalCode !== null) return;
      server.child.kill('SIGKILL');
      await once(server.child, 'exit');
    },
    async restart() {
      await server.stop();
      server.child = await launch();
    },
  };
  return server;
}

/** One raw RESP PING, so the helper does not depend on the client library under test. */
export async function redisPing(port: number): Promise<string | undefined> {
  const { connect } = await import('node:net');
  return new Promise((resolvePing) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500, () => { socket.destroy(); resolvePing(undefined); });
    socket.on('error', () => resolvePing(undefined));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => { socket.end(); resolvePing(data.toString().trim()); });
  });
}

export interface ServiceProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout (pino JSON lines) and stderr. */
  output(): string;
  /** SIGTERM, then waits for the exit; resolves the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `node dist/src/main.js` with the stand-in model and the given environment on a free port, and
 * waits until /project/health says 200 (unless waitHealthy is false).
 */
export async function startService(env: Record<string, string> = {}, { waitHealthy = true } = {}): Promise<ServiceProcess> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [MAIN_JS], {
    env: { PATH: process.env.PATH, MODEL_DIR: STANDIN_MODEL_DIR, WORKERS: '1', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const url = `http://127.0.0.1:${port}`;
  const basePath = env.BASE_PATH ?? '/project';
  const service: ServiceProcess = {
    url,
    port,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
  if (waitHealthy) {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${output}`);
      const res = await fetch(`${url}${basePath}/health`).catch(() => undefined);
      return res?.status === 200;
    }, 60_000, `service health on ${url}`);
  }
  return service;
}

/** POSTs JSON (or raw bytes) to the prediction route; resolves status, headers and parsed body. */
export async function postPredict(
  url: string,
  body: unknown,
  { raw = false, headers = { 'content-type': 'application/json' } as Record<string, string>, path = '/project/bulk-predict' } = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: raw ? (body as string | Uint8Array) : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Reads one sample of a Prometheus text exposition, e.g. metric(text, 'inf_cache_lookups_total{result="miss"}'). */
export function metric(exposition: string, sample: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${sample} `));
  if (line === undefined) throw new Error(`no sample ${sample} in the scrape`);
  return Number(line.slice(sample.length + 1));
}

/** Scrapes the service's /metrics and reads the named samples. */
export async function scrape(url: string, ...samples: string[]): Promise<number[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return samples.map((s) => metric(text, s));
}
