// Issue 10: memory and throughput of the service, per input class, from one run.
//   1. Peak RSS of the service for each input class of issue 10 ((a)..(e), three rounds each, a fresh
//      service per class), and its RSS 30 s after the burst, against its idle RSS.
//   2. Sentences/s over HTTP: uniform 16-token texts and SST-2 dev sentences (both never seen; 16
//      connections x 8 texts/request, 10 s after 3 s of warm-up). With --baseline-main-js, the two builds
//      alternate for --rounds rounds (this one, the baseline; then the other way round) and the means' ratio
//      is reported.
//   3. With --arena-ab: ONNX Runtime's CPU arena on vs off, one thread, alternating 1 s runs in this process
//      (why the service keeps the arena and re-creates sessions instead; workers/recycling-session.ts).
// --main-js runs another build of the service (e.g. main's, for "before"), with the same inputs.
//
//   node dist/bench/micro/memory.js [--main-js dist/src/main.js] [--baseline-main-js PATH] [--rounds 1] [--workers 2]
//                                   [--settle 30] [--classes a,b,c,d,e] [--skip-classes] [--skip-throughput]
//                                   [--arena-ab] [--env KEY=VALUE ...]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { readSentences, uniqueTexts } from '../lib/corpus.js';
import {
  HEALTH_PATH,
  PREDICT_PATH,
  SERVICE_MAIN_JS,
  SST2_DEV_TSV,
  STANDIN_MODEL_DIR,
  startNodeServer,
  type ManagedProcess,
} from '../lib/harness.js';
import { MEMORY_INPUTS } from './lib/memory-inputs.js';
import { runLoad } from '../lib/load.js';
import { exactLengthTexts } from './lib/texts.js';

const MiB = 1024 * 1024;
const say = (line: string): void => {
  process.stdout.write(`[memory] ${line}\n`);
};

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

async function startService(mainJs: string, env: Record<string, string>): Promise<ManagedProcess> {
  return startNodeServer({
    name: 'service',
    script: mainJs,
    env: { MODEL_DIR: STANDIN_MODEL_DIR, LOG_LEVEL: 'warn', ...env },
    healthPath: HEALTH_PATH,
  });
}

async function post(url: string, body: string): Promise<number> {
  try {
    const res = await fetch(url + PREDICT_PATH, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // the connection died (the process was killed)
  }
}

interface ClassResult {
  name: string;
  description: string;
  idle: number;
  peak: number;
  settled: number;
  statuses: Record<string, number>;
  alive: boolean;
}

async function measureClass(
  mainJs: string,
  env: Record<string, string>,
  input: (typeof MEMORY_INPUTS)[number],
  settleS: number,
): Promise<ClassResult> {
  const service = await startService(mainJs, env);
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

async function throughput(mainJs: string, env: Record<string, string>): Promise<{ uniform16: number; sst2: number }> {
  const service = await startService(mainJs, { ...env, CACHE_LRU_ENTRIES: '0' });
  try {
    const uniform = await exactLengthTexts({
      tokenizerPath: join(STANDIN_MODEL_DIR, 'tokenizer.json'),
      vocabPath: join(STANDIN_MODEL_DIR, 'vocab.txt'),
      sentences: readSentences(SST2_DEV_TSV),
      tokens: 16,
      seed: 1,
    });
    const sst2 = uniqueTexts(readSentences(SST2_DEV_TSV), `mem-${Date.now()}`);
    const rate = async (next: () => string): Promise<number> => {
      const r = await runLoad(service.url, {
        connections: 16,
        pipelining: 1,
        warmupS: 3,
        durationS: 10,
        path: PREDICT_PATH,
        body: () => JSON.stringify({ text: Array.from({ length: 8 }, next) }),
      });
      return (r.ok * 8) / r.durationS;
    };
    return { uniform16: await rate(uniform), sst2: await rate(sst2) };
  } finally {
    await service.stop();
  }
}

/** ORT's CPU arena on vs off: one thread, alternating 1 s runs of the same shapes. */
async function arenaAb(): Promise<string[]> {
  const model = join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx');
  const create = (enableCpuMemArena: boolean) =>
    ort.InferenceSession.create(model, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      enableCpuMemArena,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  const sessions = { on: await create(true), off: await create(false) };
  const feeds = (rows: number, cols: number) => ({
    input_ids: new ort.Tensor('int64', new BigInt64Array(rows * cols).fill(1000n), [rows, cols]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(rows * cols).fill(1n), [rows, cols]),
  });
  const lines: string[] = [];
  for (const [rows, cols] of [
    [16, 16],
    [16, 32],
  ]) {
    const total = { on: 0, off: 0 };
    for (const k of ['on', 'off'] as const) await sessions[k].run(feeds(rows, cols));
    for (let round = 0; round < 8; round++) {
      for (const k of round % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const t0 = performance.now();
        let n = 0;
        while (performance.now() - t0 < 1000) {
          await sessions[k].run(feeds(rows, cols));
          n += rows;
        }
        total[k] += n / ((performance.now() - t0) / 1000);
      }
    }
    lines.push(
      `| ${rows}x${cols} | ${(total.on / 8).toFixed(0)} | ${(total.off / 8).toFixed(0)} | ${((total.off / total.on) * 100).toFixed(1)} % |`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'main-js': { type: 'string' },
      workers: { type: 'string' },
      settle: { type: 'string' },
      classes: { type: 'string' },
      'baseline-main-js': { type: 'string' },
      rounds: { type: 'string' },
      'skip-classes': { type: 'boolean' },
      'skip-throughput': { type: 'boolean' },
      'arena-ab': { type: 'boolean' },
      env: { type: 'string', multiple: true },
    },
  });
  const mainJs = resolve(values['main-js'] ?? SERVICE_MAIN_JS);
  const settleS = Number(values.settle ?? 30);
  const env: Record<string, string> = { WORKERS: values.workers ?? '2' };
  for (const pair of values.env ?? []) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  const wanted = (values.classes ?? 'a,b,c,d,e').split(',');
  say(
    `service ${mainJs}, env ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const out: string[] = values['skip-classes']
    ? []
    : [
        '| input | idle RSS MiB | peak RSS MiB | RSS after ' + settleS + ' s | answers | survived |',
        '| --- | --- | --- | --- | --- | --- |',
      ];
  for (const input of values['skip-classes'] ? [] : MEMORY_INPUTS.filter((i) => wanted.includes(i.name))) {
    const r = await measureClass(mainJs, env, input, settleS);
    const line = `| (${r.name}) ${r.description} | ${r.idle.toFixed(0)} | ${r.peak.toFixed(0)} | ${r.settled.toFixed(0)} | ${Object.entries(
      r.statuses,
    )
      .map(([s, n]) => `${n}× ${s}`)
      .join(', ')} | ${r.alive ? 'yes' : 'NO'} |`;
    say(line);
    out.push(line);
  }
  if (!values['skip-throughput']) {
    const baseline = values['baseline-main-js'] === undefined ? undefined : resolve(values['baseline-main-js']);
    const rounds = Number(values.rounds ?? 1);
    const pair = baseline === undefined ? [mainJs] : [mainJs, baseline];
    const order = Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? pair : [...pair].reverse())).flat();
    const runs = new Map<string, { uniform16: number; sst2: number }[]>();
    for (const build of order) {
      const r = await throughput(build, env);
      say(`${build}: uniform 16-token ${r.uniform16.toFixed(0)} sentences/s, SST-2 dev ${r.sst2.toFixed(0)}`);
      runs.set(build, [...(runs.get(build) ?? []), r]);
    }
    const mean = (build: string, k: 'uniform16' | 'sst2'): number =>
      runs.get(build)!.reduce((a, r) => a + r[k], 0) / runs.get(build)!.length;
    out.push('', '| build | uniform 16-token sentences/s | SST-2 dev sentences/s |', '| --- | --- | --- |');
    for (const build of runs.keys()) out.push(`| ${build} | ${mean(build, 'uniform16').toFixed(0)} | ${mean(build, 'sst2').toFixed(0)} |`);
    if (baseline !== undefined)
      out.push(
        `| this / baseline | ${((mean(mainJs, 'uniform16') / mean(baseline, 'uniform16')) * 100).toFixed(1)} % | ${((mean(mainJs, 'sst2') / mean(baseline, 'sst2')) * 100).toFixed(1)} % |`,
      );
    out.push('', '16 connections × 8 never-seen texts per request, 3 s warm-up then 10 s measured; mean of the runs per build.');
  }
  if (values['arena-ab']) {
    out.push('', '| batch | arena on sentences/s | arena off | off / on |', '| --- | --- | --- | --- |', ...(await arenaAb()));
  }
  say(
    `load at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  process.stdout.write('\n' + out.join('\n') + '\n');
}

await main();
