// `npm run bench:memory` (issue 10): memory and throughput of the service, per input class, from one run.
//   1. Peak RSS of the service for each input class of issue 10 ((a)..(e), three rounds each, a fresh service
//      per class), and its RSS --settle seconds after the burst, against its idle RSS.
//   2. Sentences/s over HTTP: uniform 16-token texts and SST-2 dev sentences (both never seen; 16 connections x
//      8 texts/request, 10 s after 3 s of warm-up). With --baseline-main-js, the two builds alternate for
//      --rounds rounds and the means' ratio is reported.
// --main-js runs another build of the service (e.g. main's, for "before"), with the same inputs. The pod's
// memory arithmetic in kustomize/base/project-api-deployment.yaml comes from these runs.
import { join, resolve } from 'node:path';
import { readSentences, uniqueTexts } from '../lib/corpus.js';
import { memoryOf } from '../lib/process-memory.js';
import {
  HEALTH_PATH,
  type ManagedProcess,
  PREDICT_PATH,
  SERVICE_MAIN_JS,
  SERVICE_PROCESS_ENV,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startNodeServer,
} from '../../test/harness.js';
import { runLoad } from '../lib/load.js';
import { standInRepository } from '../lib/stand-in-repository.js';
import { defineBench, valueFlags, envFlags, envLine, numberFlag } from '../lib/runner.js';
import { MEMORY_INPUTS } from './lib/memory-inputs.js';
import { exactLengthTexts } from './lib/texts.js';

const startBuild = (mainJs: string, env: Record<string, string>): Promise<ManagedProcess> =>
  startNodeServer({
    name: 'service',
    script: mainJs,
    env: { ...SERVICE_PROCESS_ENV, MODEL_DIR: STANDIN_MODEL_DIR, LOG_LEVEL: 'warn', ...env },
    healthPath: HEALTH_PATH,
  });

async function post(url: string, body: string): Promise<number> {
  try {
    const res = await fetch(url + PREDICT_PATH, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // the connection died (the process was killed)
  }
}

/** One input class against a fresh service: idle, peak and settled RSS, and the answers it got. */
async function measureClass(mainJs: string, env: Record<string, string>, input: (typeof MEMORY_INPUTS)[number], settleS: number) {
  const service = await startBuild(mainJs, env);
  try {
    const pid = service.child.pid!;
    await new Promise((r) => setTimeout(r, 2000));
    const idle = memoryOf(pid).rss;
    const statuses: Record<string, number> = {};
    for (let round = 0; round < 3; round++) {
      const codes = await Promise.all(input.bodies(`r${round}-${Date.now()}-`).map((body) => post(service.url, body)));
      for (const code of codes) statuses[code] = (statuses[code] ?? 0) + 1;
    }
    const alive = service.child.exitCode === null && service.child.signalCode === null;
    const peak = alive ? memoryOf(pid).peak : Number.NaN;
    await new Promise((r) => setTimeout(r, settleS * 1000));
    const settled = alive ? memoryOf(pid).rss : Number.NaN;
    return { name: input.name, description: input.description, idle, peak, settled, statuses, alive };
  } finally {
    await service.stop();
  }
}

/** Sentences/s of one build on never-seen texts, uniform 16-token and SST-2 sentences. */
async function throughput(mainJs: string, env: Record<string, string>): Promise<{ uniform16: number; sst2: number }> {
  const service = await startBuild(mainJs, { ...env, CACHE_LRU_ENTRIES: '0' });
  try {
    const sentences = readSentences(SST2_DEV_TSV);
    const uniform = await exactLengthTexts({
      tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
      vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
      sentences,
      tokens: 16,
      seed: 1,
    });
    const rate = async (next: () => string): Promise<number> => {
      const body = () => JSON.stringify({ text: Array.from({ length: 8 }, next) });
      const r = await runLoad(service.url, { connections: 16, pipelining: 1, warmupS: 3, durationS: 10, path: PREDICT_PATH, body });
      return (r.ok * 8) / r.durationS;
    };
    return { uniform16: await rate(uniform), sst2: await rate(uniqueTexts(sentences, `mem-${Date.now()}`)) };
  } finally {
    await service.stop();
  }
}

defineBench({
  name: 'memory',
  title: 'Memory per hostile input class, and throughput (issue 10)',
  usage: `  --main-js PATH          the service build to measure (default dist/src/main.js)
  --baseline-main-js PATH another build to compare throughput with, in alternating rounds
  --rounds N              throughput rounds (default 1)
  --workers N             WORKERS (default 2)
  --settle S              seconds after a burst before RSS is read again (default 30)
  --classes LIST          input classes (default a,b,c,d,e)
  --skip-classes          no RSS measurement
  --skip-throughput       no throughput measurement
  --models N              serve a repository of N models (the stand-in under N names; the inputs go to the
                          default one), as a pod with several models loaded (default 1: MODEL_DIR)
  --env KEY=VALUE         a setting of the service (repeatable)`,
  options: {
    ...valueFlags('main-js', 'baseline-main-js', 'rounds', 'workers', 'settle', 'classes', 'models'),
    'skip-classes': { type: 'boolean' },
    'skip-throughput': { type: 'boolean' },
    env: { type: 'string', multiple: true },
  },
  async run({ values, log }) {
    const mainJs = resolve(String(values['main-js'] ?? SERVICE_MAIN_JS));
    const settleS = numberFlag('settle', values.settle, 30);
    const models = numberFlag('models', values.models, 1);
    const repository = models > 1 ? await standInRepository(Array.from({ length: models }, (_, i) => `m${i + 1}`)) : undefined;
    const env = envFlags(
      { WORKERS: String(numberFlag('workers', values.workers, 2)), ...repository?.env },
      values.env as string[] | undefined,
    );
    const wanted = String(values.classes ?? 'a,b,c,d,e').split(',');
    log(`service ${mainJs}, ${envLine(env)}`);
    const out: string[] = [];
    const classes = [];
    if (!values['skip-classes']) {
      out.push(
        `| input | idle RSS MiB | peak RSS MiB | RSS after ${settleS} s | answers | survived |`,
        '| --- | --- | --- | --- | --- | --- |',
      );
      for (const input of MEMORY_INPUTS.filter((i) => wanted.includes(i.name))) {
        const r = await measureClass(mainJs, env, input, settleS);
        classes.push(r);
        const answers = Object.entries(r.statuses).map(([s, n]) => `${n}× ${s}`);
        out.push(
          `| (${r.name}) ${r.description} | ${r.idle.toFixed(0)} | ${r.peak.toFixed(0)} | ${r.settled.toFixed(0)} | ${answers.join(', ')} | ${r.alive ? 'yes' : 'NO'} |`,
        );
        log(out.at(-1)!);
      }
    }
    const runs = new Map<string, { uniform16: number; sst2: number }[]>();
    if (!values['skip-throughput']) {
      const baseline = values['baseline-main-js'] === undefined ? undefined : resolve(String(values['baseline-main-js']));
      const pair = baseline === undefined ? [mainJs] : [mainJs, baseline];
      const rounds = numberFlag('rounds', values.rounds, 1);
      for (const build of Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? pair : [...pair].reverse())).flat()) {
        const r = await throughput(build, env);
        log(`${build}: uniform 16-token ${r.uniform16.toFixed(0)} sentences/s, SST-2 dev ${r.sst2.toFixed(0)}`);
        runs.set(build, [...(runs.get(build) ?? []), r]);
      }
      const mean = (build: string, k: 'uniform16' | 'sst2'): number =>
        runs.get(build)!.reduce((a, r) => a + r[k], 0) / runs.get(build)!.length;
      const pct = (k: 'uniform16' | 'sst2'): string => `${((mean(mainJs, k) / mean(baseline!, k)) * 100).toFixed(1)} %`;
      out.push('', '| build | uniform 16-token sentences/s | SST-2 dev sentences/s |', '| --- | --- | --- |');
      for (const build of runs.keys())
        out.push(`| ${build} | ${mean(build, 'uniform16').toFixed(0)} | ${mean(build, 'sst2').toFixed(0)} |`);
      if (baseline !== undefined) out.push(`| this / baseline | ${pct('uniform16')} | ${pct('sst2')} |`);
      out.push('', '16 connections × 8 never-seen texts per request, 3 s warm-up then 10 s measured; mean of the runs per build.');
    }
    await repository?.remove();
    return { data: { settings: { mainJs, env, settleS, models }, classes, throughput: Object.fromEntries(runs) }, markdown: out };
  },
});
