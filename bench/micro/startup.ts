// `npm run bench:startup`: how soon a new pod is useful, and what it holds while idle. Each start spawns the
// service (default configuration, the stand-in model), times spawn → health 200, reads its RSS then, and again
// after --idle seconds without a request (the adaptive thread layout goes wide after 2 s idle, holding one
// session). With --baseline-js the two builds alternate start by start; the report gives medians and ratios.
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HEALTH_PATH, SERVICE_MAIN_JS, SERVICE_PROCESS_ENV, STANDIN_MODEL_DIR, startNodeServer } from '../../test/harness.js';
import { fmtRps, mdTable } from '../lib/format.js';
import { memoryOf } from '../lib/process-memory.js';
import { defineBench, envFlags, envLine, numberFlag, valueFlags } from '../lib/runner.js';
import { median } from '../lib/stats.js';

interface Start {
  build: string;
  /** Spawn to the first health 200, ms. */
  healthyMs: number;
  rssAtHealthyMiB: number;
  rssIdleMiB: number;
}

defineBench({
  name: 'startup',
  title: 'Start-up to healthy, and resident memory when idle',
  usage: `  --starts N            starts of each build (default 3)
  --idle S              seconds idle before the idle RSS is read (default 10)
  --baseline-js PATH    also start this build's dist/src/main.js, alternating, e.g. the commit before a change
  --env KEY=VALUE       a setting of the service(s) (repeatable)`,
  options: { ...valueFlags('starts', 'idle', 'baseline-js'), env: { type: 'string', multiple: true } },
  async run({ values, log }) {
    const starts = numberFlag('starts', values.starts, 3);
    const idleS = numberFlag('idle', values.idle, 10);
    // WORKERS empty: unset, as in the default configuration.
    const env = envFlags({ WORKERS: '', LOG_LEVEL: 'warn' }, (values.env as string[] | undefined) ?? []);
    const builds: Record<string, string> = { service: SERVICE_MAIN_JS };
    if (values['baseline-js']) builds.baseline = resolve(String(values['baseline-js']));
    log(
      `builds: ${Object.entries(builds)
        .map(([name, js]) => `${name} ${js}`)
        .join(', ')} (${envLine(env)})`,
    );

    const runs: Start[] = [];
    for (let i = 0; i < starts; i++) {
      const names = Object.keys(builds);
      for (const build of i % 2 === 0 ? names : names.reverse()) {
        const t0 = performance.now();
        const service = await startNodeServer({
          name: build,
          script: builds[build]!,
          env: { ...SERVICE_PROCESS_ENV, MODEL_DIR: STANDIN_MODEL_DIR, ...env },
          healthPath: HEALTH_PATH,
        });
        try {
          const healthyMs = performance.now() - t0;
          const pid = service.child.pid!;
          const rssAtHealthyMiB = memoryOf(pid).rss;
          await new Promise((r) => setTimeout(r, idleS * 1000));
          const run = { build, healthyMs, rssAtHealthyMiB, rssIdleMiB: memoryOf(pid).rss };
          runs.push(run);
          log(
            `${build} start ${i + 1}: healthy in ${healthyMs.toFixed(0)} ms, ${rssAtHealthyMiB.toFixed(0)} MiB, ${run.rssIdleMiB.toFixed(0)} MiB after ${idleS} s idle`,
          );
        } finally {
          await service.stop();
        }
      }
    }
    const of = (build: string, key: keyof Omit<Start, 'build'>): number => median(runs.filter((r) => r.build === build).map((r) => r[key]));
    const rows = Object.keys(builds).map((build) => [
      build,
      fmtRps(of(build, 'healthyMs')),
      of(build, 'rssAtHealthyMiB').toFixed(0),
      of(build, 'rssIdleMiB').toFixed(0),
    ]);
    if (builds.baseline) {
      const ratio = (key: keyof Omit<Start, 'build'>): string => `×${(of('service', key) / of('baseline', key)).toFixed(3)}`;
      rows.push(['service / baseline', ratio('healthyMs'), ratio('rssAtHealthyMiB'), ratio('rssIdleMiB')]);
    }
    return {
      data: { config: { starts, idleS, env, builds }, runs },
      markdown: [
        `Median of ${starts} starts of each build${builds.baseline ? ', alternating' : ''}.`,
        '',
        ...mdTable(['build', 'spawn → healthy ms', 'RSS at healthy MiB', `RSS after ${idleS} s idle MiB`], rows),
      ],
    };
  },
});
