// The shape of a bench run's JSON, and the reduction of measured runs into per-scenario ratios.
import type { LoadResult } from './load.js';
import type { ScenarioName } from './scenarios.js';
import { median } from './stats.js';

export type TargetName = 'ours' | 'peer';
export const TARGETS: readonly TargetName[] = ['ours', 'peer'];

export interface RunRecord {
  scenario: ScenarioName;
  target: TargetName;
  round: number;
  /** Position in the whole run's sequence of measured runs (0-based). */
  sequence: number;
  warmup: LoadResult;
  measured: LoadResult;
}

/** The median over rounds of each number; counts of failures are summed, not medianed. */
export interface TargetStats {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Cores used by the server and by the load generator (see LoadResult); null when not measured. */
  serverCpu: number | null;
  clientCpu: number;
}

export interface ScenarioSummary {
  name: ScenarioName;
  description: string;
  textsPerRequest: string;
  connections: number;
  pipelining: number;
  ours: TargetStats;
  peer: TargetStats;
  /** ours / peer: above 1 is better for rps, below 1 is better for latency. */
  ratios: { rps: number; p50: number; p99: number };
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export interface TargetInfo {
  description: string;
  script: string;
  env: Record<string, string>;
}

export interface BenchReport {
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  git: { sha: string; dirty: boolean };
  machine: MachineInfo;
  mode: 'full' | 'quick';
  settings: {
    warmupS: number;
    durationS: number;
    rounds: number;
    workers: number;
    seed: number;
    /** The Content-Type header of every timed request. */
    contentType: 'none';
    /** How ours and the peer take turns. */
    order: string;
  };
  targets: Record<TargetName, TargetInfo>;
  parity: { texts: number; maxScoreDiff: number; tolerance: number };
  scenarios: ScenarioSummary[];
  runs: RunRecord[];
}

/** Folds the measured runs of one scenario and target into medians; throws if there are none. */
export function targetStats(runs: readonly RunRecord[]): TargetStats {
  if (runs.length === 0) throw new Error('no measured runs');
  const m = runs.map((r) => r.measured);
  const sum = (f: (x: LoadResult) => number): number => m.reduce((acc, x) => acc + f(x), 0);
  return {
    rps: median(m.map((x) => x.rps)),
    p50: median(m.map((x) => x.p50)),
    p90: median(m.map((x) => x.p90)),
    p99: median(m.map((x) => x.p99)),
    requests: sum((x) => x.requests),
    non2xx: sum((x) => x.non2xx),
    errors: sum((x) => x.errors),
    timeouts: sum((x) => x.timeouts),
    serverCpu: m.every((x) => typeof x.serverCpu === 'number') ? median(m.map((x) => x.serverCpu!)) : null,
    clientCpu: median(m.map((x) => x.clientCpu)),
  };
}

/** ours / peer, or NaN when the peer's number is 0 (the report prints "n/a"). */
export function ratio(ours: number, peer: number): number {
  return peer === 0 ? Number.NaN : ours / peer;
}

/** One summary per scenario, in the order given, from every run of both targets. */
export function summarize(
  scenarios: readonly { name: ScenarioName; description: string; textsPerRequest: string; connections: number; pipelining: number }[],
  runs: readonly RunRecord[],
): ScenarioSummary[] {
  return scenarios.map((s) => {
    const ours = targetStats(runs.filter((r) => r.scenario === s.name && r.target === 'ours'));
    const peer = targetStats(runs.filter((r) => r.scenario === s.name && r.target === 'peer'));
    return {
      name: s.name,
      description: s.description,
      textsPerRequest: s.textsPerRequest,
      connections: s.connections,
      pipelining: s.pipelining,
      ours,
      peer,
      ratios: { rps: ratio(ours.rps, peer.rps), p50: ratio(ours.p50, peer.p50), p99: ratio(ours.p99, peer.p99) },
    };
  });
}
