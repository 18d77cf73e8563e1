// The one harness of the tests and the benches: where the repo's files are, the child processes they own
// (a private redis-server, our service, other Node servers), and the HTTP calls they make to the service.
// Shared with bench/, so the build compiles it (to dist/test/): it imports sources, never dist/.
// Children are tracked, so a run that dies (an exception, Ctrl-C) leaves no server behind on the machine.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../model/paths.js';

export const REPO_ROOT = packageRoot;
/** The stand-in model that tests, benches and CI use, beside the repo in shared/ (see its README). */
export const STANDIN_MODEL_DIR = resolve(REPO_ROOT, '..', 'shared', 'models', 'distilbert-sst2-standin');
/** SST-2 dev sentences (`sentence<TAB>label`): the accuracy test's data and the benches' unique texts. */
export const SST2_DEV_TSV = resolve(REPO_ROOT, '..', 'shared', 'data', 'sst2', 'dev.tsv');
export const SERVICE_MAIN_JS = join(REPO_ROOT, 'dist', 'src', 'main.js');
export const PEER_JS = join(REPO_ROOT, 'dist', 'bench', 'peers', 'transformers-peer.js');
export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

export const PREDICT_PATH = '/project/bulk-predict';
export const HEALTH_PATH = '/project/health';

/** A port that was free a moment ago (bind 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls `check` every 50 ms until it returns true; throws after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** The current process (a restarted redis-server is a new one). */
  readonly child: ChildProcess;
  /** What the process wrote to stdout and stderr (pino JSON lines for our service), the last 4 MiB. */
  output(): string;
  /**
   * Sends `signal` (SIGTERM; SIGKILL for redis-server, which keeps nothing), then SIGKILL after `killAfterMs`;
   * resolves the exit code once it has exited (null when a signal ended it).
   */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<number | null>;
}

export interface RedisProcess extends ManagedProcess {
  /** Starts it again on the same port, e.g. after a test stopped it. */
  restart(): Promise<void>;
}

const OUTPUT_CAP = 4 * 1024 * 1024;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Tracks the process `launch` starts, keeps its output, and stops it. `launch` runs again on restart();
 * the output runs on across restarts.
 */
export async function manage(
  name: string,
  url: string,
  port: number,
  launch: () => ChildProcess,
  defaultSignal: NodeJS.Signals,
): Promise<ManagedProcess & { relaunch(): void }> {
  installExitHook();
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > OUTPUT_CAP) output = output.slice(-OUTPUT_CAP);
  };
  const track = (): ChildProcess => {
    const child = launch();
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    return child;
  };
  let child = track();
  return {
    name,
    url,
    port,
    get child() {
      return child;
    },
    output: () => output,
    async stop(signal = defaultSignal, killAfterMs = 30_000) {
      const current = child;
      if (hasExited(current)) return current.exitCode;
      const exited = once(current, 'exit');
      current.kill(signal);
      const timer = setTimeout(() => current.kill('SIGKILL'), killAfterMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code as number | null;
    },
    relaunch() {
      child = track();
    },
  };
}

/** Waits for `ready`, failing at once with the process's output if it exits or cannot be spawned. */
export async function waitReady(proc: ManagedProcess, ready: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const { child } = proc;
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${proc.name}: ${err.message}`)));
  });
  await Promise.race([
    spawnFailed,
    waitFor(
      async () => {
        if (hasExited(child)) throw new Error(`${proc.name} exited with ${child.exitCode ?? child.signalCode}:\n${proc.output()}`);
        return ready();
      },
      timeoutMs,
      what,
    ),
  ]);
}

/** One raw RESP PING, so readiness does not depend on the client library under test; resolves the reply. */
export function redisPing(port: number): Promise<string | undefined> {
  return new Promise((resolvePing) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500, () => {
      socket.destroy();
      resolvePing(undefined);
    });
    socket.on('error', () => resolvePing(undefined));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      socket.end();
      resolvePing(data.toString().trim());
    });
  });
}

/** Calls of the named commands, summed, in a redis-server's `INFO commandstats` text (0 for one never called). */
export function commandCalls(commandstats: string, ...names: string[]): number {
  return names.reduce((sum, name) => sum + Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(commandstats)?.[1] ?? 0), 0);
}

const execFileAsync = promisify(execFile);

/** `redis-cli -h 127.0.0.1 -p port ...args`: its stdout. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  return (await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 })).stdout;
}

/** Calls of the named commands, summed, by the `INFO commandstats` of the redis-server on `port`. */
export async function redisCommandCalls(port: number, ...names: string[]): Promise<number> {
  return commandCalls(await redisCli(port, 'info', 'commandstats'), ...names);
}

/**
 * Starts a private redis-server on a free port (or `port`), without persistence and with DEBUG allowed from
 * localhost (tests make it sleep); never uses a server left running. `extraArgs` go last (e.g. cluster mode).
 */
export async function startRedis(
  bin = 'redis-server',
  { port: givenPort, extraArgs = [] }: { port?: number; extraArgs?: readonly string[] } = {},
): Promise<RedisProcess> {
  const port = givenPort ?? (await freePort());
  const args = [
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'],
    ...extraArgs,
  ];
  const launch = (): ChildProcess => spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = await manage('redis-server', `redis://127.0.0.1:${port}`, port, launch, 'SIGKILL');
  const ready = (): Promise<void> =>
    waitReady(proc, async () => (await redisPing(port)) === '+PONG', 10_000, `redis-server on port ${port}`);
  await ready();
  return Object.assign(proc, {
    async restart() {
      await proc.stop();
      proc.relaunch();
      await ready();
    },
  });
}

export interface NodeServerOptions {
  name: string;
  /** The .js entry point, run with this process's node. */
  script: string;
  /** The whole environment of the child besides PATH, PORT and HOST: nothing else leaks in from the shell. */
  env: Record<string, string>;
  healthPath: string;
  /** Resolve once it runs, without waiting for health (default true: wait for a 200). */
  waitHealthy?: boolean;
  /** How long model loading and warm-up may take. */
  readyTimeoutMs?: number;
  /** Node flags before the script, e.g. --cpu-prof (which NODE_OPTIONS does not allow). */
  nodeArgs?: readonly string[];
}

/** A Node server started by startNodeServer: also the port it was given for gRPC (our service's; others ignore it). */
export interface NodeServerProcess extends ManagedProcess {
  /** GRPC_PORT as given: a free port unless `env` set one (`0`: gRPC off). */
  readonly grpcPort: number;
}

/**
 * Runs a Node server on a free port of 127.0.0.1 (and a second free one as GRPC_PORT unless `env` sets it, so
 * parallel services never meet on the default 8001) and (unless told not to) waits until `healthPath` answers 200.
 */
export async function startNodeServer(opts: NodeServerOptions): Promise<NodeServerProcess> {
  const port = await freePort();
  const grpcPort = opts.env.GRPC_PORT === undefined ? await freePort() : Number(opts.env.GRPC_PORT);
  const url = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH ?? '', GRPC_PORT: String(grpcPort), ...opts.env, HOST: '127.0.0.1', PORT: String(port) };
  const launch = (): ChildProcess =>
    spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = Object.assign(await manage(opts.name, url, port, launch, 'SIGTERM'), { grpcPort });
  if (opts.waitHealthy === false) return proc;
  const healthy = async (): Promise<boolean> => {
    const res = await fetch(url + opts.healthPath).catch(() => undefined);
    await res?.body?.cancel();
    return res?.status === 200;
  };
  try {
    await waitReady(proc, healthy, opts.readyTimeoutMs ?? 120_000, `${opts.name} health on ${url}${opts.healthPath}`);
  } catch (err) {
    await proc.stop('SIGTERM', 1000);
    throw err;
  }
  return proc;
}

export interface ServiceOptions {
  /** Names the process in errors and bench logs (default "service"). */
  name?: string;
  /** Resolve once it runs, without waiting for health (default true: wait until it is warm). */
  waitHealthy?: boolean;
  readyTimeoutMs?: number;
  /** Another build of the service (default dist/src/main.js). */
  script?: string;
  /** Node flags before the script (a profiler's, e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
}

/**
 * The process environment the service runs with as the image and `npm start` run it (Dockerfile): glibc's
 * fixed mmap threshold, so memory ONNX Runtime releases goes back to the system.
 */
export const SERVICE_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };

/**
 * Runs our service (`node dist/src/main.js`) on a free port with the stand-in model (unless `env` gives a
 * MODEL_REPOSITORY, which excludes MODEL_DIR), one worker and LOG_LEVEL=info unless `env` says otherwise, and waits
 * until its health answers 200.
 */
export function startService(env: Record<string, string> = {}, opts: ServiceOptions = {}): Promise<NodeServerProcess> {
  const model: Record<string, string> = env.MODEL_REPOSITORY === undefined ? { MODEL_DIR: STANDIN_MODEL_DIR } : {};
  return startNodeServer({
    name: opts.name ?? 'service',
    script: opts.script ?? SERVICE_MAIN_JS,
    env: { ...SERVICE_PROCESS_ENV, ...model, WORKERS: '1', LOG_LEVEL: 'info', ...env },
    healthPath: `${env.BASE_PATH ?? '/project'}/health`,
    waitHealthy: opts.waitHealthy,
    readyTimeoutMs: opts.readyTimeoutMs,
    nodeArgs: opts.nodeArgs,
  });
}

/** Starts several servers at once; if one fails, stops the others before throwing. `into` collects them. */
export async function startAll(starts: readonly (() => Promise<ManagedProcess>)[], into: ManagedProcess[]): Promise<ManagedProcess[]> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  for (const s of settled) if (s.status === 'fulfilled') into.push(s.value);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ManagedProcess>).value);
}

/** Throws with the server's last output if it has exited. */
export function assertAlive(server: ManagedProcess, during: string): void {
  if (hasExited(server.child)) throw new Error(`${server.name} died during ${during}:\n${server.output().slice(-4000)}`);
}

export interface PredictAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined when it is not JSON). */
  // any: the tests read fields of whatever the service answered
  body: any;
  /** The body as received. */
  text: string;
}

/** POSTs JSON (or, with `raw`, the given string or bytes) to the prediction route. */
export async function postPredict(
  url: string,
  body: unknown,
  { raw = false, headers = { 'content-type': 'application/json' } as Record<string, string>, path = PREDICT_PATH } = {},
): Promise<PredictAnswer> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: raw ? (body as string | Uint8Array) : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** The service's pino lines in a process's output, parsed; lines that are not JSON (ONNX Runtime's own) are skipped. */
// any: log records are whatever the service logged; tests read named fields.
export function logRecords(output: string): Record<string, any>[] {
  return output.split('\n').flatMap((line) => {
    try {
      const record: unknown = JSON.parse(line);
      return record !== null && typeof record === 'object' ? [record as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}
