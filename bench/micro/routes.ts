// `npm run bench:routes` (issue 24): every route family on one service, in one run, against bulk-predict:
// cached (the same body again and again, every text in the cache) and uncached (every request carries texts
// never seen, so the model sets the pace). The families share the queue, the cache and the batch policy, so
// the target is each within 5 % of bulk-predict's req/s in both.
import { basename } from 'node:path';
import {
  type ManagedProcess,
  postPredict,
  PREDICT_PATH,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startRedis,
  startService,
} from '../../test/harness.js';
import { readSentences, uniqueTexts } from '../lib/corpus.js';
import { fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { problems, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';

const TARGET = 0.05;
/** This build against the build before a change (--baseline-js): at most 5 % slower. */
const BASELINE_TARGET = 0.05;
const OIP_MODEL = basename(STANDIN_MODEL_DIR);

/** Each family's route and its request for the same texts. */
const FAMILIES = {
  'bulk-predict': { path: PREDICT_PATH, body: (texts: string[]) => ({ text: texts }) },
  'TEI /predict': { path: '/predict', body: (texts: string[]) => ({ inputs: texts.map((t) => [t]) }) },
  'HF POST /': { path: '/', body: (texts: string[]) => ({ inputs: texts }) },
  'OIP infer': {
    path: `/v2/models/${OIP_MODEL}/infer`,
    body: (texts: string[]) => ({ inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] }),
  },
} as const;
type Family = keyof typeof FAMILIES;
const NAMES = Object.keys(FAMILIES) as Family[];
type Path = 'cached' | 'uncached';

/** This build, and the one given by --baseline-js. */
const BUILDS = ['this', 'baseline'] as const;
type Build = (typeof BUILDS)[number];

interface RunRecord {
  family: Family;
  build: Build;
  path: Path;
  round: number;
  measured: LoadResult;
}

defineBench({
  name: 'routes',
  title: 'Route families against bulk-predict, cached and uncached',
  usage: `  --texts N           texts per request (default 3, the k6 profile's)
  --connections N     autocannon connections (default 20 cached, 10 uncached)
  --duration S        seconds per measured run (default 8)
  --warmup S          seconds of warm-up right before each measured run (default 2)
  --rounds N          measured runs per family and path (default 3)
  --baseline-js PATH  also measure every family on this build's dist/src/main.js (e.g. the commit before a change),
                      alternating with this build in each round, against one Redis`,
  options: valueFlags('texts', 'connections', 'duration', 'warmup', 'rounds', 'baseline-js'),
  async run({ values, ctx, log, track, measure }) {
    const cfg = {
      texts: numberFlag('texts', values.texts, 3),
      connections: values.connections === undefined ? undefined : numberFlag('connections', values.connections, 20),
      durationS: numberFlag('duration', values.duration, 8),
      warmupS: numberFlag('warmup', values.warmup, 2),
      rounds: numberFlag('rounds', values.rounds, 3),
    };
    const baselineJs = values['baseline-js'] as string | undefined;
    const redis = await track(startRedis());
    const env = { REDIS_URL: redis.url, WORKERS: String(ctx.machine.cpus), LOG_LEVEL: 'warn' };
    const services: Record<Build, ManagedProcess | undefined> = {
      this: await track(startService(env)),
      baseline: baselineJs ? await track(startService(env, { name: 'baseline', script: baselineJs })) : undefined,
    };
    const builds = BUILDS.filter((build) => services[build] !== undefined);
    const cachedTexts = Array.from({ length: cfg.texts }, (_, i) => `a sentence every route family has cached, number ${i}`);
    for (const build of builds) {
      for (const family of NAMES) {
        const { path, body } = FAMILIES[family];
        const first = await postPredict(services[build]!.url, body(cachedTexts), { path });
        if (first.status !== 200) throw new Error(`${family} (${build}) answered ${first.status}: ${first.text}`);
      }
    }
    const fresh = uniqueTexts(readSentences(SST2_DEV_TSV), ctx.startedAt);

    const runs: RunRecord[] = [];
    for (const path of ['cached', 'uncached'] as const) {
      for (let round = 0; round < cfg.rounds; round++) {
        // A different family first each round, and the builds in turns, so a drift in the shared machine's load
        // favours none.
        const order = NAMES.map((_, i) => NAMES[(i + round) % NAMES.length]!);
        const buildOrder = round % 2 === 0 ? builds : [...builds].reverse();
        for (const family of order) {
          for (const build of buildOrder) {
            const route = FAMILIES[family];
            const cachedBody = JSON.stringify(route.body(cachedTexts));
            const { load } = await measure(
              services[build]!,
              {
                connections: cfg.connections ?? (path === 'cached' ? 20 : 10),
                pipelining: 1,
                warmupS: cfg.warmupS,
                durationS: cfg.durationS,
                path: route.path,
                body: path === 'cached' ? cachedBody : () => JSON.stringify(route.body(Array.from({ length: cfg.texts }, fresh))),
              },
              false,
            );
            runs.push({ family, build, path, round, measured: load });
            const name = build === 'this' ? family : `${family} (baseline)`;
            log(`${path} round ${round + 1} ${name}: ${fmtRps(load.okRps)} req/s, p99 ${fmtMs(load.p99)} ms ${problems(load)}`);
          }
        }
      }
    }
    return { data: { settings: { ...cfg, baselineJs }, runs }, markdown: render(cfg, runs, baselineJs) };
  },
});

function render(cfg: { texts: number; durationS: number; rounds: number }, runs: RunRecord[], baselineJs: string | undefined): string[] {
  const of = (family: Family, path: Path, build: Build = 'this') =>
    runs.filter((r) => r.family === family && r.path === path && r.build === build).map((r) => r.measured);
  const rps = (family: Family, path: Path, build: Build = 'this') => median(of(family, path, build).map((m) => m.okRps));
  const p99 = (family: Family, path: Path) => median(of(family, path).map((m) => m.p99));
  const failed = (family: Family) => runs.filter((r) => r.family === family).reduce((n, r) => n + r.measured.non2xx + r.measured.errors, 0);
  const ofBaseline = (family: Family, path: Path): string => {
    const r = rps(family, path) / rps(family, path, 'baseline');
    return `×${r.toFixed(3)} ${r >= 1 - BASELINE_TARGET ? 'met' : 'MISSED'}`;
  };
  const ratio = (family: Family, path: Path): string => {
    const r = rps(family, path) / rps('bulk-predict', path);
    return family === 'bulk-predict' ? '' : `×${r.toFixed(3)} ${Math.abs(r - 1) <= TARGET ? 'met' : 'MISSED'}`;
  };
  return [
    `${cfg.texts} texts per request; cached: the same body every time (all texts in the cache); uncached: never-seen SST-2`,
    `sentences in every request. One service (Redis + in-process tier + response memo, the defaults; WORKERS = cores),`,
    `${cfg.rounds} rounds of ${cfg.durationS} s per family and path, order rotating; medians.`,
    '',
    ...mdTable(
      [
        'family',
        'cached req/s',
        'p99 ms',
        `/ bulk-predict (±${TARGET * 100} %)`,
        'uncached req/s',
        'p99 ms',
        `/ bulk-predict (±${TARGET * 100} %)`,
        'failed',
      ],
      NAMES.map((f) => [
        f,
        fmtRps(rps(f, 'cached')),
        fmtMs(p99(f, 'cached')),
        ratio(f, 'cached'),
        fmtRps(rps(f, 'uncached')),
        fmtMs(p99(f, 'uncached')),
        ratio(f, 'uncached'),
        String(failed(f)),
      ]),
    ),
    ...(baselineJs === undefined
      ? []
      : [
          '',
          `This build against \`${baselineJs}\` (the same families, loads and Redis, alternating in each round): req/s`,
          `ratios of the medians, target at least ${1 - BASELINE_TARGET} (not more than ${BASELINE_TARGET * 100} % slower).`,
          '',
          ...mdTable(
            ['family', 'cached: this / baseline req/s', 'uncached: this / baseline req/s'],
            NAMES.map((f) => [
              f,
              `${fmtRps(rps(f, 'cached'))} / ${fmtRps(rps(f, 'cached', 'baseline'))} ${ofBaseline(f, 'cached')}`,
              `${fmtRps(rps(f, 'uncached'))} / ${fmtRps(rps(f, 'uncached', 'baseline'))} ${ofBaseline(f, 'uncached')}`,
            ]),
          ),
        ]),
  ];
}
