import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/**
 * The CPU limit of this process's cgroup in cores (e.g. 1.5), or undefined when there is none.
 * Reads cgroup v2 `cpu.max` ("<quota> <period>" or "max <period>"), then cgroup v1
 * `cpu/cpu.cfs_quota_us` / `cpu/cpu.cfs_period_us` (quota -1 means no limit).
 * `root` is a parameter so tests can hand it a fake hierarchy.
 */
export function readCgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = readText(join(root, 'cpu.max'));
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    return quota === 'max' ? undefined : ratio(quota, period);
  }
  const quota = readText(join(root, 'cpu', 'cpu.cfs_quota_us')) ?? readText(join(root, 'cpu,cpuacct', 'cpu.cfs_quota_us'));
  const period = readText(join(root, 'cpu', 'cpu.cfs_period_us')) ?? readText(join(root, 'cpu,cpuacct', 'cpu.cfs_period_us'));
  if (quota === undefined || period === undefined || Number(quota) < 0) return undefined;
  return ratio(quota, period);
}

/**
 * Worker threads for a CPU limit in cores: the whole cores it grants, at least one; without a limit, the
 * cores the machine has. Rounding down keeps workers x 1 intra-op thread within the quota, so the pod is
 * not throttled.
 */
export function workersForCpuLimit(cpuLimit: number | undefined): number {
  if (cpuLimit === undefined) return availableParallelism();
  return Math.max(1, Math.floor(cpuLimit));
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
