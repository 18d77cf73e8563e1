// Facts about the run that a reader needs to judge it: the commit and the machine.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, release, totalmem, type } from 'node:os';
import type { MachineInfo } from './report.js';

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The short HEAD sha ('nogit' outside a checkout) and whether tracked files differ from it. */
export function gitInfo(repoRoot: string): { sha: string; dirty: boolean } {
  const sha = git(['rev-parse', '--short', 'HEAD'], repoRoot) ?? 'nogit';
  const status = git(['status', '--porcelain', '--untracked-files=no'], repoRoot);
  return { sha, dirty: Boolean(status) };
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cpus: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.versions.node,
  };
}
