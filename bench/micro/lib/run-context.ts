// What every micro benchmark records beside its numbers (machine, commit, load average, command), the
// optional wait for a quiet machine, and where the results go.
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gitInfo, machineInfo } from '../../lib/machine.js';
import { DEFAULT_RESULTS_DIR, REPO_ROOT } from '../../lib/harness.js';
import type { MachineInfo } from '../../lib/report.js';

export interface RunContext {
  name: string;
  startedAt: string;
  git: { sha: string; dirty: boolean };
  machine: MachineInfo;
  /** The command line that reproduces the run, relative to the repo root. */
  command: string;
  /** 1, 5 and 15 minute load averages when measuring began (after any wait) and when it ended. */
  loadAtStart: number[];
  loadAtEnd: number[];
  /** Seconds spent waiting for the 1-minute load to drop under --max-load. */
  waitedForLoadS: number;
}

/** Options every micro benchmark accepts (parseArgs shape). */
export const COMMON_OPTIONS = {
  out: { type: 'string' },
  'max-load': { type: 'string' },
  'max-wait': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const COMMON_USAGE = `  --out DIR           where the JSON and Markdown go (default bench/results)
  --max-load X        before measuring, wait until the 1-minute load average is below X (default: no wait)
  --max-wait S        ...for at most S seconds, then measure anyway and say so (default 600)
  -h, --help          this text`;

export function say(name: string, line: string): void {
  process.stdout.write(`[${name}] ${line}\n`);
}

/** A positive number from a flag, or the fallback. */
export function numberFlag(flag: string, raw: string | undefined, fallback: number, integer = true): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  }
  return v;
}

/** A comma-separated list of positive integers. */
export function listFlag(flag: string, raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined) return fallback;
  return raw.split(',').map((s) => numberFlag(flag, s.trim(), 0));
}

/** The model-bound load both ceiling.ts and threads.ts drive: never-seen texts of a set length, over HTTP. */
export const MODEL_LOAD_OPTIONS = {
  tokens: { type: 'string' },
  'texts-per-request': { type: 'string' },
  connections: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  rounds: { type: 'string' },
  seed: { type: 'string' },
} as const;

export interface ModelLoadFlags {
  tokens: number;
  textsPerRequest: number;
  connections: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  seed: number;
}

export function modelLoadFlags(values: { [K in keyof typeof MODEL_LOAD_OPTIONS]?: string }): ModelLoadFlags {
  return {
    tokens: numberFlag('tokens', values.tokens, 16),
    textsPerRequest: numberFlag('texts-per-request', values['texts-per-request'], 8),
    connections: numberFlag('connections', values.connections, 32),
    durationS: numberFlag('duration', values.duration, 10),
    warmupS: numberFlag('warmup', values.warmup, 3),
    rounds: numberFlag('rounds', values.rounds, 2),
    seed: numberFlag('seed', values.seed, 1),
  };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
const currentLoad = (): number[] => loadavg().map(round2);

/**
 * Waits (polling every 10 s) until the 1-minute load average is below `maxLoad`, for at most `maxWaitS`.
 * The machine is shared; a quiet moment makes the A/B ratios less noisy, but they are ratios either way.
 */
export async function startRun(name: string, argv: readonly string[], maxLoad: number | undefined, maxWaitS: number): Promise<RunContext> {
  const began = Date.now();
  if (maxLoad !== undefined) {
    while (loadavg()[0]! >= maxLoad && Date.now() - began < maxWaitS * 1000) {
      say(
        name,
        `1-minute load ${loadavg()[0]!.toFixed(2)} >= ${maxLoad}; waiting (${Math.round((Date.now() - began) / 1000)} s of ${maxWaitS} s)`,
      );
      await new Promise((r) => setTimeout(r, 10_000));
    }
    if (loadavg()[0]! >= maxLoad) say(name, `load still ${loadavg()[0]!.toFixed(2)} after ${maxWaitS} s; measuring anyway`);
  }
  const script = relative(REPO_ROOT, process.argv[1] ?? `dist/bench/micro/${name}.js`);
  return {
    name,
    startedAt: new Date().toISOString(),
    git: gitInfo(REPO_ROOT),
    machine: machineInfo(),
    command: ['node', script, ...argv].join(' '),
    loadAtStart: currentLoad(),
    loadAtEnd: [],
    waitedForLoadS: Math.round((Date.now() - began) / 1000),
  };
}

/** The lines every report starts with: what ran, where, when, and how loaded the machine was. */
export function contextLines(ctx: RunContext, title: string): string[] {
  const m = ctx.machine;
  return [
    `# ${title}`,
    '',
    `- Run: ${ctx.startedAt}, commit ${ctx.git.sha}${ctx.git.dirty ? ' (uncommitted changes)' : ''}`,
    `- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}`,
    `- Load average (1/5/15 min): ${ctx.loadAtStart.join(' / ')} at start, ${ctx.loadAtEnd.join(' / ')} at end` +
      (ctx.waitedForLoadS > 0 ? ` (waited ${ctx.waitedForLoadS} s for a quieter moment)` : ''),
    `- Command: \`${ctx.command}\``,
    '',
  ];
}

/** `2026-11-23-120102`: sortable and safe in a file name. */
function stamp(iso: string): string {
  return iso.slice(0, 19).replace('T', '-').replace(/:/g, '');
}

/** Writes <out>/micro-<name>-<date>-<sha>.{json,md} and returns the base path (without extension). */
export async function writeResults(ctx: RunContext, outDir: string | undefined, data: unknown, markdown: string): Promise<string> {
  ctx.loadAtEnd = ctx.loadAtEnd.length > 0 ? ctx.loadAtEnd : currentLoad();
  const dir = resolve(outDir ?? DEFAULT_RESULTS_DIR);
  await mkdir(dir, { recursive: true });
  const base = join(dir, `micro-${ctx.name}-${stamp(ctx.startedAt)}-${ctx.git.sha}`);
  await writeFile(`${base}.json`, JSON.stringify({ schemaVersion: 1, context: ctx, ...(data as object) }, null, 2) + '\n');
  await writeFile(`${base}.md`, markdown);
  return base;
}

/** Records the end-of-run load average (call when measuring is over, before rendering). */
export function endRun(ctx: RunContext): void {
  ctx.loadAtEnd = currentLoad();
}
