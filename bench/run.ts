// `npm run bench`: starts redis-server, our service and the peer, checks they agree, runs every scenario of
// bench/lib/scenarios.ts against both (alternating, each measured run after its own warm-up), stops everything,
// and writes <out>/<date>-<sha>.{json,md,svg}.
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { renderChart } from './lib/chart.js';
import { newSst2Sentences, readSentences, seededRandom } from './lib/corpus.js';
import { fmtCores, fmtMs, fmtRatio, fmtRps } from './lib/format.js';
import { machineInfo } from './lib/machine.js';
import { renderMarkdown } from './lib/markdown.js';
import { checkParity } from './lib/parity.js';
import {
  HEALTH_PATH,
  type ManagedProcess,
  PEER_JS,
  PREDICT_PATH,
  REPO_ROOT,
  SERVICE_MAIN_JS,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startAll,
  startNodeServer,
  startRedis,
  startService,
} from '../test/harness.js';
import { failures, runLoad } from './lib/load.js';
import { summarize, type BenchReport, type RunRecord, type TargetName } from './lib/report.js';
import { defineBench, valueFlags, numberFlag, stamp } from './lib/runner.js';
import { buildScenarios, SCENARIO_NAMES, type ScenarioName } from './lib/scenarios.js';

defineBench({
  name: 'bench',
  title: 'ours vs the transformers.js peer',
  usage: `  --quick             smoke run: 1 s warm-up, 2 s measured, 1 round, 1 worker, fewer connections
  --scenarios LIST    comma-separated subset of ${SCENARIO_NAMES.join(',')} (default all)
  --duration S        seconds per measured run (default 15; quick 2)
  --warmup S          seconds of warm-up before each measured run (default 5; quick 1)
  --rounds N          measured runs per scenario and target (default 2; quick 1)
  --workers N         WORKERS of our service (default: the CPU count; quick 1)
  --seed N            seed of the body sequence (default: random, recorded in the JSON)
  --ours-script PATH  our entry point (default dist/src/main.js), e.g. an older build to compare
  --model-dir DIR     model directory (default ../shared/models/distilbert-sst2-standin)`,
  options: {
    ...valueFlags('scenarios', 'duration', 'warmup', 'rounds', 'workers', 'seed', 'ours-script', 'model-dir'),
    quick: { type: 'boolean', default: false },
  },
  async run({ values, ctx, log: say, started }) {
    const quick = values.quick === true;
    const names = String(values.scenarios ?? SCENARIO_NAMES.join(','))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean) as ScenarioName[];
    const unknown = names.filter((s) => !SCENARIO_NAMES.includes(s));
    if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`);
    const cfg = {
      durationS: numberFlag('duration', values.duration, quick ? 2 : 15),
      warmupS: numberFlag('warmup', values.warmup, quick ? 1 : 5),
      rounds: numberFlag('rounds', values.rounds, quick ? 1 : 2),
      workers: numberFlag('workers', values.workers, quick ? 1 : machineInfo().cpus),
      seed: numberFlag('seed', values.seed, Math.floor(Math.random() * 2 ** 31) + 1),
      oursScript: resolve(String(values['ours-script'] ?? SERVICE_MAIN_JS)),
      modelDir: resolve(String(values['model-dir'] ?? STANDIN_MODEL_DIR)),
    };
    for (const [what, path] of [
      ['our service', cfg.oursScript],
      ['the peer', PEER_JS],
    ] as const) {
      if (!existsSync(path)) throw new Error(`${what} is not built: ${path} is missing (run npm run build)`);
    }
    if (!existsSync(cfg.modelDir)) throw new Error(`model directory ${cfg.modelDir} does not exist`);

    const random = seededRandom(cfg.seed);
    const scenarios = buildScenarios({
      quick,
      sentences: readSentences(SST2_DEV_TSV),
      random,
      // SST-2 sentences with a word swapped: never seen, and as long as SST-2's (whatever --model-dir serves).
      unique: await newSst2Sentences(cfg.seed),
    }).filter((s) => names.includes(s.name));

    const envs: Record<TargetName, Record<string, string>> = {
      // The peer serves the file's model, per-batch quantization included: ours serves the same graph, so the
      // two answer with the same scores (docs/batch-invariance.md has the per-row rewrite's own cost).
      ours: { MODEL_DIR: cfg.modelDir, WORKERS: String(cfg.workers), LOG_LEVEL: 'warn', PER_ROW_QUANTIZATION: 'false' },
      peer: { MODEL_DIR: cfg.modelDir },
    };
    const redis = await startRedis();
    started.push(redis);
    say(`redis-server on ${redis.url}; starting our service and the peer`);
    const [ours, peer] = (await startAll(
      [
        () => startService({ ...envs.ours, REDIS_URL: redis.url }, { name: 'ours', script: cfg.oursScript }),
        () => startNodeServer({ name: 'peer', script: PEER_JS, env: { ...envs.peer, REDIS_URL: redis.url }, healthPath: HEALTH_PATH }),
      ],
      started,
    )) as [ManagedProcess, ManagedProcess];
    say(`ours on ${ours.url}, peer on ${peer.url}`);
    const servers: Record<TargetName, ManagedProcess> = { ours, peer };

    const parity = await checkParity({ name: 'ours', url: ours.url }, { name: 'peer', url: peer.url });
    say(`parity: ${parity.texts} texts agree (largest score difference ${parity.maxScoreDiff.toFixed(4)})`);
    const runs: RunRecord[] = [];
    for (const [si, scenario] of scenarios.entries()) {
      say(
        `${scenario.name}: ${scenario.description}; ${scenario.connections} connections, pipelining ${scenario.pipelining}, ` +
          `${cfg.warmupS} s warm-up + ${cfg.durationS} s measured, ${cfg.rounds} round(s)`,
      );
      for (let round = 0; round < cfg.rounds; round++) {
        // Who goes first alternates by scenario and round (ours, peer, peer, ours, ...), so a drift in the
        // machine's load does not always favour the same target.
        const order: TargetName[] = (si + round) % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
        for (const target of order) {
          const server = servers[target];
          // Two runs, so the warm-up's numbers are recorded too. Every connection completes at least one request
          // in the warm-up and two in the measured run; a 100-text request on a loaded peer can take seconds.
          const load = {
            connections: scenario.connections,
            pipelining: scenario.pipelining,
            warmupS: 0,
            path: PREDICT_PATH,
            body: () => scenario.nextBody(),
            serverPid: server.child.pid,
            timeoutS: 60,
          };
          const warmup = await runLoad(server.url, { ...load, durationS: cfg.warmupS, minResponses: scenario.connections });
          const measured = await runLoad(server.url, { ...load, durationS: cfg.durationS, minResponses: 2 * scenario.connections });
          if (server.child.exitCode !== null || server.child.signalCode !== null) {
            throw new Error(`${target} died during ${scenario.name}:\n${server.output().slice(-4000)}`);
          }
          runs.push({ scenario: scenario.name, target, round, sequence: runs.length, warmup, measured });
          const failed = failures(measured);
          say(
            `  ${target.padEnd(4)} round ${round + 1}: ${fmtRps(measured.rps)} req/s, p50 ${fmtMs(measured.p50)} ms, ` +
              `p99 ${fmtMs(measured.p99)} ms, CPU server ${fmtCores(measured.serverCpu)} client ${fmtCores(measured.clientCpu)}${failed > 0 ? `, ${failed} FAILED` : ''}`,
          );
        }
      }
    }

    const report: BenchReport = {
      schemaVersion: 1,
      startedAt: ctx.startedAt,
      finishedAt: new Date().toISOString(),
      git: ctx.git,
      machine: ctx.machine,
      mode: quick ? 'quick' : 'full',
      settings: {
        warmupS: cfg.warmupS,
        durationS: cfg.durationS,
        rounds: cfg.rounds,
        workers: cfg.workers,
        seed: cfg.seed,
        contentType: 'none',
        order: 'ours and the peer take turns, and which goes first alternates by scenario and round',
      },
      targets: {
        ours: {
          description: `this service, ${cfg.workers} worker(s), per-text Redis + in-process cache`,
          script: relative(REPO_ROOT, cfg.oursScript),
          env: envs.ours,
        },
        peer: {
          description: 'fastify + transformers.js pipeline (q8), whole-request Redis cache',
          script: relative(REPO_ROOT, PEER_JS),
          env: envs.peer,
        },
      },
      parity,
      scenarios: summarize(scenarios, runs),
      runs,
    };
    const file = `${stamp(ctx.startedAt)}-${report.git.sha}${quick ? '-quick' : ''}`;
    say('ours/peer:  scenario   req/s    p50      p99');
    for (const s of report.scenarios) {
      say(
        `            ${s.name.padEnd(9)}  ${fmtRatio(s.ratios.rps).padEnd(7)}  ${fmtRatio(s.ratios.p50).padEnd(7)}  ${fmtRatio(s.ratios.p99)}`,
      );
    }
    return { data: report, markdown: [renderMarkdown(report, `${file}.svg`)], file, extra: { svg: renderChart(report) }, header: false };
  },
});
