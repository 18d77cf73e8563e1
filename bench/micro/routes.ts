// `npm run bench:routes` (issues 24 and 33): every route family on one service, in one run, against bulk-predict:
// cached (the same texts again and again, every text in the cache) and uncached (every request carries texts
// never seen, so the model sets the pace). The families share the queue, the cache and the batch policy, so
// the target is each HTTP family within 5 % of bulk-predict's sentences/s in both, each gRPC family within 10 %.
// A gRPC family's load is closed loops of calls on one HTTP/2 connection, sent by a lean client (bench/lib/grpc-h2-client.ts:
// grpc-js's own client would cost the load generator more CPU than the server, on the same two cores).
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
import { leanGrpcClient } from '../lib/grpc-h2-client.js';
import { fmtMs, fmtRps, mdTable } from '../lib/format.js';
import { problems, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';

const TARGET = 0.05;
const GRPC_TARGET = 0.1;
/** This build against the build before a change (--baseline-js): at most 5 % slower. */
const BASELINE_TARGET = 0.05;
const OIP_MODEL = basename(STANDIN_MODEL_DIR);

/** An HTTP family: its route and its request body for some texts. */
interface HttpFamily {
  readonly path: string;
  readonly body: (texts: string[]) => object;
}
/** A gRPC family: the call that asks for some texts, on a client of the service's gRPC port. */
interface GrpcFamily {
  readonly grpc: (port: number) => (texts: string[]) => Promise<void>;
}

/** Each family's request for the same texts. */
const FAMILIES: Record<string, HttpFamily | GrpcFamily> = {
  'bulk-predict': { path: PREDICT_PATH, body: (texts) => ({ text: texts }) },
  'TEI /predict': { path: '/predict', body: (texts) => ({ inputs: texts.map((t) => [t]) }) },
  'HF POST /': { path: '/', body: (texts) => ({ inputs: texts }) },
  'OIP infer': {
    path: `/v2/models/${OIP_MODEL}/infer`,
    body: (texts) => ({ inputs: [{ name: 'text', shape: [texts.length], datatype: 'BYTES', data: texts }] }),
  },
  'gRPC OIP ModelInfer': {
    grpc: (port) => {
      const client = leanGrpcClient('grpc_predict_v2.proto', 'inference.GRPCInferenceService', port);
      return (texts) =>
        client.call('ModelInfer', {
          model_name: OIP_MODEL,
          inputs: [
            { name: 'text', datatype: 'BYTES', shape: [texts.length], contents: { bytes_contents: texts.map((t) => Buffer.from(t)) } },
          ],
        });
    },
  },
  // TEI's Predict takes one input a call; a client with several sends them at once.
  'gRPC TEI Predict': {
    grpc: (port) => {
      const client = leanGrpcClient('tei.proto', 'tei.v1.Predict', port);
      return async (texts) => {
        await Promise.all(texts.map((inputs) => client.call('Predict', { inputs })));
      };
    },
  },
};
type Family = keyof typeof FAMILIES;
const NAMES = Object.keys(FAMILIES) as Family[];
const isGrpc = (family: Family): boolean => 'grpc' in FAMILIES[family]!;

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
    const services: Record<Build, (ManagedProcess & { grpcPort: number }) | undefined> = {
      this: await track(startService(env)),
      baseline: baselineJs ? await track(startService(env, { name: 'baseline', script: baselineJs })) : undefined,
    };
    const builds = BUILDS.filter((build) => services[build] !== undefined);
    const cachedTexts = Array.from({ length: cfg.texts }, (_, i) => `a sentence every route family has cached, number ${i}`);
    // The gRPC families' calls, on this build's gRPC port (the baseline is measured over HTTP only).
    const grpcCalls = new Map(
      NAMES.flatMap((family) => {
        const f = FAMILIES[family]!;
        return 'grpc' in f ? [[family, f.grpc(services.this!.grpcPort)] as const] : [];
      }),
    );
    for (const build of builds) {
      for (const family of NAMES) {
        const f = FAMILIES[family]!;
        if ('grpc' in f) {
          if (build === 'this') await grpcCalls.get(family)!(cachedTexts);
          continue;
        }
        const first = await postPredict(services[build]!.url, f.body(cachedTexts), { path: f.path });
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
            if (build === 'baseline' && isGrpc(family)) continue;
            const f = FAMILIES[family]!;
            const texts = () => (path === 'cached' ? cachedTexts : Array.from({ length: cfg.texts }, fresh));
            const target =
              'grpc' in f
                ? { send: () => grpcCalls.get(family)!(texts()) }
                : {
                    path: f.path,
                    body: path === 'cached' ? JSON.stringify(f.body(cachedTexts)) : () => JSON.stringify(f.body(texts())),
                  };
            const { load } = await measure(
              services[build]!,
              {
                connections: cfg.connections ?? (path === 'cached' ? 20 : 10),
                pipelining: 1,
                warmupS: cfg.warmupS,
                durationS: cfg.durationS,
                ...target,
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
  const cpuUs = (family: Family) => median(of(family, 'cached').map((m) => m.serverCpuUsPerRequest ?? Number.NaN));
  const ratio = (family: Family, path: Path): string => {
    const r = rps(family, path) / rps('bulk-predict', path);
    const target = isGrpc(family) ? GRPC_TARGET : TARGET;
    return family === 'bulk-predict' ? '' : `×${r.toFixed(3)} ${Math.abs(r - 1) <= target ? 'met' : 'MISSED'} (±${target * 100} %)`;
  };
  return [
    `${cfg.texts} texts per request; cached: the same texts every time (all in the cache); uncached: never-seen SST-2`,
    `sentences in every request. One service (Redis + in-process tier + response memo, the defaults; WORKERS = cores),`,
    `${cfg.rounds} rounds of ${cfg.durationS} s per family and path, order rotating; medians. Sentences/s = req/s × ${cfg.texts}`,
    `for every family (a TEI gRPC request is ${cfg.texts} Predict calls at once). Server CPU per cached request: µs of the`,
    'service process per answered request, whatever the client kept up with.',
    '',
    ...mdTable(
      [
        'family',
        'cached req/s',
        'p99 ms',
        '/ bulk-predict',
        'server CPU µs per cached request',
        'uncached req/s',
        'p99 ms',
        '/ bulk-predict',
        'failed',
      ],
      NAMES.map((f) => [
        f,
        fmtRps(rps(f, 'cached')),
        fmtMs(p99(f, 'cached')),
        ratio(f, 'cached'),
        fmtRps(cpuUs(f)),
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
            NAMES.filter((f) => !isGrpc(f)).map((f) => [
              f,
              `${fmtRps(rps(f, 'cached'))} / ${fmtRps(rps(f, 'cached', 'baseline'))} ${ofBaseline(f, 'cached')}`,
              `${fmtRps(rps(f, 'uncached'))} / ${fmtRps(rps(f, 'uncached', 'baseline'))} ${ofBaseline(f, 'uncached')}`,
            ]),
          ),
        ]),
  ];
}
