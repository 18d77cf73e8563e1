// The child processes a bench run owns: one redis-server and the HTTP servers under test.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';

export interface ManagedProcess {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  /** The last 64 KiB the process wrote to stdout and stderr. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_CAP = 64 * 1024;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// A bench that dies (an exception, Ctrl-C) must not leave servers behind on the shared machine.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => { for (const child of live) child.kill('SIGKILL'); });
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

function manage(name: string, child: ChildProcess, port: number, url: string): ManagedProcess {
  installExitHook();
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString();
    if (output.length > OUTPUT_CAP) output = output.slice(-OUTPUT_CAP);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return {
    name,
    url,
    port,
    child,
    output: () => output,
    async stop(graceMs = 5000) {
      if (hasExited(child)) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One raw RESP PING, so readiness does not depend on a client library. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500, () => { socket.destroy(); resolvePing(false); });
    socket.on('error', () => resolvePing(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => { socket.end(); resolvePing(data.toString().startsWith('+PONG')); });
  });
}

/** Starts a private redis-server (no persistence) on a free port; never reuses one already running. */
export async function startRedis(bin = 'redis-server'): Promise<ManagedProcess> {
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = manage('redis-server', child, port, `redis://127.0.0.1:${port}`);
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start ${bin}: ${err.message}`)));
  });
  await Promise.race([failed, waitFor(async () => {
    if (hasExited(child)) throw new Error(`${bin} exited with ${child.exitCode}:\n${proc.output()}`);
    return redisPing(port);
  }, 10_000, `redis-server on port ${port}`)]);
  return proc;
}

export interface NodeServerOptions {
  name: string;
  /** The .js entry point, run with this process's node. */
  script: string;
  /** The whole environment of the child besides PATH, PORT and HOST: nothing else leaks in from the shell. */
  env: Record<string, string>;
  healthPath: string;
  /** How long model loading and warm-up may take. */
  readyTimeoutMs?: number;
  /** Node flags before the script, e.g. --cpu-prof (which NODE_OPTIONS does not allow). */
  nodeArgs?: readonly string[];
}

/** Runs a Node server on a free port and waits until `healthPath` answers 200. */
export async function startNodeServer(opts: NodeServerOptions): Promise<ManagedProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script], {
    env: { PATH: process.env.PATH ?? '', ...opts.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const proc = manage(opts.name, child, port, url);
  try {
    await waitFor(async () => {
      if (hasExited(child)) throw new Error(`${opts.name} exited with ${child.exitCode ?? child.signalCode}:\n${proc.output()}`);
      const res = await fetch(url + opts.healthPath).catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    }, opts.readyTimeoutMs ?? 120_000, `${opts.name} health on ${url}${opts.healthPath}`);
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
  return proc;
}
