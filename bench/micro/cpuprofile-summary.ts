// Where a server's CPU time goes, from the V8 CPU profiles that `cached-vs-bare.js --cpu-prof DIR` writes:
// each sample from the first request on is charged to the first stage (below) found walking its stack from the
// leaf up, so time spent in a helper counts for the stage that called it. Prints the stages and the top
// functions by self time. V8 counts time in uWS's native event loop outside JS callbacks as idle, so the
// shares are of the JS side (and the GC); the kernel's and uWS's own work, which the bare server shares,
// is not in them.
//
// Usage: node dist/bench/micro/cpuprofile-summary.js DIR_OR_FILE [--top N] [--answers N]
// --answers: how many requests the profiled process answered (from the run's report), to add µs per answer.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Stage name, and whether a frame belongs to it. Checked from the leaf up; the first frame that matches wins. */
const STAGES: readonly (readonly [string, (f: CallFrame) => boolean])[] = [
  ['metrics', (f) => f.url.includes('/observability/')],
  ['request id', (f) => f.functionName === 'randomUUID' || f.url.includes('request-id')],
  ['validation (AJV)', (f) => f.url.includes('request-validators')],
  ['UTF-8 decode + JSON parse', (f) => f.url.includes('parse-request')],
  ['response memo', (f) => f.url.includes('response-memo')],
  ['cache: hashing + LRU + Redis', (f) => f.url.includes('/cache/')],
  ['predictor: distinct texts + body assembly', (f) => f.url.includes('inference/predictor')],
  [
    'response writes (uWS writeStatus/writeHeader/end/cork)',
    (f) => f.url === '' && ['writeStatus', 'writeHeader', 'end', 'cork', 'endWithoutBody', 'tryEnd'].includes(f.functionName),
  ],
  ['header values + response assembly', (f) => f.url.includes('http/respond') || f.functionName === 'toFixed'],
  ['body read (onData, copy)', (f) => f.url.includes('http/body') || f.functionName === 'onData'],
  [
    'handler: request headers, context, promises',
    (f) => f.url.includes('http/') || f.url.includes('lifecycle') || f.url.includes('bare-server'),
  ],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
  ['uWS event loop, sockets, kernel (native, outside JS)', (f) => f.functionName === '(program)'],
  ['idle', (f) => f.functionName === '(idle)'],
];

/** Source files of the POST handlers: the service's predict route and the bare server. */
const POST_HANDLER = /handlers\/predict\.js$|bare-server\.js$/;

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((n) => n.endsWith('.cpuprofile'))
    .map((n) => join(path, n));
}

function summarize(file: string, top: number, answers: number | undefined): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const stage = (id: number): string => {
    let cached = stageOf.get(id);
    if (cached !== undefined) return cached;
    cached = 'other JS (timers, Redis client, prom-client, ...)';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const hit = STAGES.find(([, test]) => test(frame));
      if (hit) {
        cached = hit[0];
        break;
      }
    }
    stageOf.set(id, cached);
    return cached;
  };
  const stageUs = new Map<string, number>();
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  // Start-up (module loading, hashing the model file, health polls) is not the request path: count from the
  // first sample inside a POST handler.
  const isRequest = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      if (POST_HANDLER.test(byId.get(at)!.callFrame.url)) return true;
    return false;
  };
  const first = Math.max(0, profile.samples.findIndex(isRequest));
  profile.samples.forEach((id, i) => {
    if (i < first) return;
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    stageUs.set(stage(id), (stageUs.get(stage(id)) ?? 0) + us);
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
  });
  const busyUs = totalUs - (stageUs.get('idle') ?? 0);
  const pct = (us: number): string => `${((100 * us) / busyUs).toFixed(1)}%`;
  const perAnswer = (us: number): string => (answers === undefined ? '' : ` ${(us / answers).toFixed(2)} |`);
  const lines = [
    `${file}: ${(totalUs / 1e6).toFixed(1)} s sampled from the first request on, ${(busyUs / 1e6).toFixed(1)} s not idle (shares below are of that)` +
      (answers === undefined ? '' : `; ${answers} answers, ${(busyUs / answers).toFixed(2)} µs each`),
    '',
    `| stage | share |${answers === undefined ? '' : ' µs per answer |'}`,
    `| --- | ---: |${answers === undefined ? '' : ' ---: |'}`,
  ];
  for (const [name, us] of [...stageUs].filter(([n]) => n !== 'idle').sort((a, b) => b[1] - a[1]))
    lines.push(`| ${name} | ${pct(us)} |${perAnswer(us)}`);
  lines.push('', `| top ${top} functions by self time | share |`, '| --- | ---: |');
  for (const [name, us] of [...selfUs]
    .filter(([n]) => !n.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    lines.push(`| \`${name}\` | ${pct(us)} |`);
  return lines.join('\n');
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string' }, answers: { type: 'string' } }, allowPositionals: true });
if (positionals.length === 0) {
  process.stderr.write('Usage: node dist/bench/micro/cpuprofile-summary.js DIR_OR_FILE... [--top N]\n');
  process.exitCode = 2;
}
for (const path of positionals) {
  // Worker threads write profiles too; the main thread's is the largest.
  for (const file of profilesIn(path))
    process.stdout.write(
      summarize(file, Number(values.top ?? 25), values.answers === undefined ? undefined : Number(values.answers)) + '\n\n',
    );
}
