// `npm run bench:soak` in its short mode, end to end: a real service (and a real redis-server), real load, the
// report's three files, and a run with a bad flag that stops with a message instead of measuring.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { repoRoot } from './helper.js';

const SOAK_JS = join(repoRoot, 'dist/bench/micro/soak.js');

async function soak(args: string[]): Promise<{ code: number; output: string }> {
  const child = spawn(process.execPath, [SOAK_JS, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const [code] = await once(child, 'exit');
  return { code: code as number, output };
}

for (const redis of [true, false]) {
  t.test(`a short soak ${redis ? 'with' : 'without'} Redis samples every bucket and reports the drift figures`, async (t) => {
    const out = t.testdir();
    const { code, output } = await soak(['--duration', '10s', '--workers', '1', '--out', out, ...(redis ? [] : ['--no-redis'])]);
    t.equal(code, 0, `exits 0\n${output}`);
    if (code !== 0) return;
    const files = (await readdir(out)).sort();
    const base = files.find((f) => f.endsWith('.json'))!.slice(0, -'.json'.length);
    t.match(base, redis ? /-redis$/ : /-no-redis$/);
    t.same(files, [`${base}.json`, `${base}.md`, `${base}.svg`]);

    const report = JSON.parse(await readFile(join(out, `${base}.json`), 'utf8'));
    t.equal(report.buckets.length, 10, 'ten buckets in a short run');
    const sum = (k: string) => report.buckets.reduce((n: number, b: Record<string, number>) => n + b[k]!, 0);
    t.ok(sum('ok') > 0, '2xx answers were recorded');
    t.ok(report.samples.length >= 10, `${report.samples.length} samples`);
    for (const s of report.samples) {
      t.ok(s.rssMiB > 0 && s.heapUsedMiB > 0, 'RSS and heap read from /metrics');
      t.equal(s.redisUsedMiB === null, !redis, redis ? 'Redis memory sampled' : 'no Redis memory without Redis');
    }
    t.ok(report.samples.at(-1).memoryTierEntries >= 3, "the in-process tier's entries are sampled (the repeated body's 3 at least)");
    const { summary } = report;
    for (const k of ['rssSlopeMiBPerMin', 'heapSlopeMiBPerMin', 'p99FirstMs', 'p99SecondMs', 'p99LastMs', 'p99LastOverSecond']) {
      t.ok(Number.isFinite(summary[k]), `${k} is a number (${summary[k]})`);
    }
    // Not 0: a loaded machine may refuse some new texts (503); the bench reports them, the test checks the sums.
    t.equal(summary.requests, sum('ok') + sum('non2xx'), "the summary counts every bucket's answers");
    t.equal(summary.non2xx, sum('non2xx'), "and every bucket's non-2xx");
    t.ok(Number.isInteger(summary.errors), 'socket errors are counted');
    const markdown = await readFile(join(out, `${base}.md`), 'utf8');
    t.match(markdown, /RSS slope/);
    t.match(await readFile(join(out, `${base}.svg`), 'utf8'), /<svg[^>]*>/);
  });
}

t.test('a duration that is not one stops before anything starts', async (t) => {
  const { code, output } = await soak(['--duration', 'ten']);
  t.not(code, 0);
  t.match(output, /--duration must be a duration/);
});
