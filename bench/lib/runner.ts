// The one runner of every bench: a scenario file declares its options and what it runs and compares
// (`defineBench`); the runner parses the flags, waits for a quiet machine if asked, starts and always stops the
// processes the scenario starts, measures loads with a /metrics scrape at the window's edges, and writes the
// report (machine, commit, load average, command, then the scenario's tables) as <out>/<name>.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DEFAULT_RESULTS_DIR, REPO_ROOT, assertAlive, type ManagedProcess } from '../../test/harness.js';
import { scrapeMetrics } from '../../test/metrics-scrape.js';
import { type LoadResult, type LoadSettings, type LoadTarget, runLoad } from './load.js';
import { gitInfo, machineInfo } from './machine.js';
import type { MachineInfo } from './report.js';

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

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | string[] | undefined>;

/** Options every bench accepts. */
const COMMON_OPTIONS = {
  out: { type: 'string' },
  'max-load': { type: 'string' },
  'max-wait': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

const COMMON_USAGE = `  --out DIR           where the JSON and Markdown go (default bench/results)
  --max-load X        before measuring, wait until the 1-minute load average is below X (default: no wait)
  --max-wait S        ...for at most S seconds, then measure anyway and say so (default 600)
  -h, --help          this text`;

/** What a scenario gets from the runner. */
export interface Bench {
  /** The parsed flags. */
  values: Values;
  ctx: RunContext;
  log(line: string): void;
  /** The processes the runner stops when the bench ends (`startAll(starts, started)` adds to it). */
  started: ManagedProcess[];
  /** Tracks a started process (or several), so the runner stops it when the bench ends, also on an error. */
  track<T extends ManagedProcess | ManagedProcess[]>(started: T | Promise<T>): Promise<T>;
  /**
   * One load against `server`: autocannon via runLoad (warm-up, then the measured window), the server's CPU,
   * and, unless `scrape` is false, its /metrics at the window's edges (after the load's own `onWindow`, if any);
   * throws if the server died meanwhile.
   */
  measure(
    server: ManagedProcess,
    load: LoadTarget & Omit<LoadSettings, 'serverPid'>,
    scrape?: boolean,
  ): Promise<{ load: LoadResult; before?: Map<string, number>; after?: Map<string, number> }>;
}

/** What a scenario hands back: the data for the JSON, and its Markdown (tables and notes) after the header. */
export interface BenchOutput {
  data: object;
  markdown: string[];
  /** The files' name without extension (default micro-<name>-<date>-<sha>). */
  file?: string;
  /** More files beside the JSON and the Markdown, by extension (e.g. an SVG chart). */
  extra?: Record<string, string>;
  /** False when the Markdown carries its own header (default true: the runner's context lines). */
  header?: boolean;
}

export interface BenchSpec {
  /** File and log name. */
  name: string;
  /** The report's heading. */
  title: string;
  /** Usage lines of the scenario's own options. */
  usage: string;
  options: Options;
  run(bench: Bench): Promise<BenchOutput>;
}

/** Options that each take a value (`--name VALUE`), for a bench's `options`. */
export function valueFlags(...names: string[]): Options {
  return Object.fromEntries(names.map((name) => [name, { type: 'string' }]));
}

/** A positive number from a flag, or the fallback. */
export function numberFlag(flag: string, raw: unknown, fallback: number, integer = true): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new Error(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${String(raw)}"`);
  }
  return v;
}

/** A comma-separated list of positive integers. */
export function listFlag(flag: string, raw: unknown, fallback: number[]): number[] {
  if (raw === undefined) return fallback;
  return String(raw)
    .split(',')
    .map((s) => numberFlag(flag, s.trim(), 0));
}

/** Repeated `--env KEY=VALUE` flags over `base`. */
export function envFlags(base: Record<string, string>, pairs: readonly string[] = []): Record<string, string> {
  const env = { ...base };
  for (const pair of pairs) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  return env;
}

/** `KEY=VALUE KEY=VALUE`, for logs and reports. */
export const envLine = (env: Record<string, string>): string =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

const currentLoad = (): number[] => loadavg().map((v) => Math.round(v * 100) / 100);

/** `2026-11-23-120102`: sortable, and safe in a file name. */
export function stamp(iso: string): string {
  return iso.slice(0, 19).replace('T', '-').replace(/:/g, '');
}

/**
 * Waits (polling every 10 s) until the 1-minute load average is below `maxLoad`, for at most `maxWaitS`, then
 * records what the report needs. The machine is shared; a quiet moment makes ratios less noisy.
 */
export async function startRun(name: string, argv: readonly string[], maxLoad?: number, maxWaitS = 600): Promise<RunContext> {
  const began = Date.now();
  while (maxLoad !== undefined && loadavg()[0]! >= maxLoad && Date.now() - began < maxWaitS * 1000) {
    process.stdout.write(`[${name}] 1-minute load ${loadavg()[0]!.toFixed(2)} >= ${maxLoad}; waiting\n`);
    await new Promise((r) => setTimeout(r, 10_000));
  }
  return {
    name,
    startedAt: new Date().toISOString(),
    git: gitInfo(REPO_ROOT),
    machine: machineInfo(),
    command: ['node', relative(REPO_ROOT, process.argv[1] ?? name), ...argv].join(' '),
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

/** Runs a bench from its spec: call it at the bottom of the scenario file. */
export function defineBench(spec: BenchSpec): void {
  const say = (line: string): void => {
    process.stdout.write(`[${spec.name}] ${line}\n`);
  };
  const started: ManagedProcess[] = [];
  const main = async (): Promise<void> => {
    const argv = process.argv.slice(2);
    const { values } = parseArgs({ args: argv, options: { ...spec.options, ...COMMON_OPTIONS }, strict: true });
    if (values.help) {
      process.stdout.write(
        `Usage: node ${relative(REPO_ROOT, process.argv[1] ?? spec.name)} [options]\n\n${spec.usage}\n${COMMON_USAGE}\n`,
      );
      return;
    }
    const maxLoad = values['max-load'] === undefined ? undefined : numberFlag('max-load', values['max-load'], 0, false);
    const ctx = await startRun(spec.name, argv, maxLoad, numberFlag('max-wait', values['max-wait'], 600));
    const bench: Bench = {
      values,
      ctx,
      log: say,
      started,
      async track(starting) {
        const proc = await starting;
        started.push(...(Array.isArray(proc) ? proc : [proc]));
        return proc;
      },
      async measure(server, load, scrape = true) {
        let before: Promise<Map<string, number>> | undefined;
        let after: Promise<Map<string, number>> | undefined;
        const result = await runLoad(server.url, {
          ...load,
          serverPid: server.child.pid,
          onWindow: (edge) => {
            load.onWindow?.(edge);
            if (!scrape) return;
            if (edge === 'start') before = scrapeMetrics(server.url);
            else after = scrapeMetrics(server.url);
          },
        });
        assertAlive(server, `a ${load.connections}-connection load`);
        return { load: result, before: await before, after: await after };
      },
    };
    const output = await spec.run(bench);
    ctx.loadAtEnd = currentLoad();
    const markdown = [...(output.header === false ? [] : contextLines(ctx, spec.title)), ...output.markdown, ''].join('\n');
    const dir = resolve(typeof values.out === 'string' ? values.out : DEFAULT_RESULTS_DIR);
    await mkdir(dir, { recursive: true });
    const base = join(dir, output.file ?? `micro-${spec.name}-${stamp(ctx.startedAt)}-${ctx.git.sha}`);
    const files: Record<string, string> = {
      json: `${JSON.stringify({ schemaVersion: 1, context: ctx, ...output.data }, null, 2)}\n`,
      md: markdown,
      ...output.extra,
    };
    for (const [ext, content] of Object.entries(files)) await writeFile(`${base}.${ext}`, content);
    process.stdout.write(`\n${markdown}\n`);
    say(`wrote ${base}.{${Object.keys(files).join(',')}}`);
  };
  main()
    .catch((err: unknown) => {
      process.stderr.write(`[${spec.name}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => Promise.all(started.reverse().map((p) => p.stop())));
}
