// `npm run bench:fuzz`: the edge fuzz of test/http-fuzz.test.ts (bench/lib/http-fuzz.ts) with as many cases and
// seeds as asked, against the service in its default configuration. Its result is a count of problems (each
// with the case id that makes it again: `--seed S --families F`, case N), not a speed.
import { ROUTE_FAMILIES, type RouteFamily, runFuzz } from '../lib/http-fuzz.js';
import { startService } from '../../test/harness.js';
import { mdTable } from '../lib/format.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';

defineBench({
  name: 'fuzz',
  title: 'Edge fuzz: mutated requests of every route family',
  usage: `  --cases N           cases per family and seed (default 20000)
  --seed S            first seed (default 1)
  --seeds N           seeds, from S on (default 1)
  --families LIST     only these of ${ROUTE_FAMILIES.join(',')} (default all)
  --concurrency N     connections at a time (default 16)`,
  options: { ...valueFlags('cases', 'seed', 'seeds', 'families', 'concurrency') },
  async run({ values, log, track }) {
    const cases = numberFlag('cases', values.cases, 20_000);
    const firstSeed = numberFlag('seed', values.seed, 1);
    const seeds = numberFlag('seeds', values.seeds, 1);
    const concurrency = numberFlag('concurrency', values.concurrency, 16);
    const families = (values.families === undefined ? [...ROUTE_FAMILIES] : String(values.families).split(',')) as RouteFamily[];
    const unknown = families.filter((family) => !ROUTE_FAMILIES.includes(family));
    if (unknown.length > 0) throw new Error(`--families: unknown ${unknown.join(',')}`);
    const service = await track(startService({ LOG_LEVEL: 'warn' }));
    const rows: string[][] = [];
    const runs: object[] = [];
    const problems: string[] = [];
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      for (const family of families) {
        const run = await runFuzz(service.port, { seed, family, cases, concurrency });
        if (service.child.exitCode !== null) throw new Error(`the service died during seed ${seed}, ${family}`);
        log(`seed ${seed} ${family}: ${run.problems.length} problems`);
        problems.push(...run.problems.map((problem) => `seed ${seed}: ${problem}`));
        runs.push({ seed, family, cases, problems: run.problems, statuses: Object.fromEntries(run.statuses) });
        rows.push([String(seed), family, String(cases), String(run.problems.length), JSON.stringify(Object.fromEntries(run.statuses))]);
      }
    }
    const health = await fetch(`${service.url}/project/health`);
    return {
      data: { runs, aliveAfter: health.status === 200 },
      markdown: [
        ...mdTable(['seed', 'family', 'cases', 'problems', 'statuses'], rows),
        '',
        `Service alive and healthy after the run: ${health.status === 200 ? 'yes' : `no (${health.status})`}.`,
        ...(problems.length > 0 ? ['', 'Problems (first 50):', '', ...problems.slice(0, 50).map((p) => `- ${p}`)] : []),
      ],
    };
  },
});
