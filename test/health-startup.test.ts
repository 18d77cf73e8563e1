// Health is 503 until every worker has warmed the model, then 200; the pool follows the CPU limit.
import t from 'tap';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCgroupCpuLimit, workersForCpuLimit } from '../dist/src/cpu-limit.js';
import { loadConfig } from '../dist/src/config.js';
import { exposition, metric, postPredict, startService, STANDIN_MODEL_DIR, waitFor } from './helper.js';

t.test('health answers 503 starting before warm-up and 200 after; predictions meanwhile get 503', async (t) => {
  // Three workers on two cores take a while to warm, so the starting phase is observable.
  const service = await startService({ WORKERS: '3' }, { waitHealthy: false });
  t.teardown(() => service.stop());
  const seen: number[] = [];
  let predictDuringStart: { status: number; body: unknown } | undefined;
  await waitFor(
    async () => {
      const res = await fetch(`${service.url}/project/health`).catch(() => undefined);
      if (!res) return false;
      seen.push(res.status);
      if (res.status === 503) {
        t.same(await res.json(), { status: 'starting' });
        predictDuringStart ??= await postPredict(service.url, { text: ['early'] });
      }
      return res.status === 200;
    },
    60_000,
    'healthy',
  );
  t.equal(seen[0], 503, 'first answer is 503');
  t.equal(seen.at(-1), 200, 'then 200');
  t.match(predictDuringStart, { status: 503, body: { detail: 'Model is loading' } });
  // The log comes through the child's stdout, a pipe of its own: it may be read after the health answer.
  await waitFor(() => service.output().includes('"msg":"ready"'), 10_000, 'the ready line');
  const warmLines = service
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"model worker warm"'));
  t.equal(warmLines.length, 3, 'every worker reported warm before ready');
  t.ok(
    service.output().indexOf('"msg":"ready"') > service.output().lastIndexOf('"msg":"model worker warm"'),
    'ready comes after every warm-up',
  );
  const ok = await postPredict(service.url, { text: ['now'] });
  t.equal(ok.status, 200);
});

const fakeCgroup = (files: Record<string, string>): string => {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
};

t.test('the cgroup v2 cpu.max quota is read in cores', async (t) => {
  t.equal(readCgroupCpuLimit(fakeCgroup({ 'cpu.max': '150000 100000\n' })), 1.5);
  t.equal(readCgroupCpuLimit(fakeCgroup({ 'cpu.max': '300000 100000\n' })), 3);
  t.equal(readCgroupCpuLimit(fakeCgroup({ 'cpu.max': 'max 100000\n' })), undefined, 'max means no limit');
});

t.test('the cgroup v1 CFS quota is read in cores', async (t) => {
  t.equal(readCgroupCpuLimit(fakeCgroup({ 'cpu/cpu.cfs_quota_us': '200000', 'cpu/cpu.cfs_period_us': '100000' })), 2);
  t.equal(readCgroupCpuLimit(fakeCgroup({ 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000' })), undefined);
  t.equal(readCgroupCpuLimit(fakeCgroup({})), undefined, 'no cgroup files, no limit');
});

t.test('workers are the whole cores of the limit, at least one', async (t) => {
  t.equal(workersForCpuLimit(0.5), 1);
  t.equal(workersForCpuLimit(1.5), 1);
  t.equal(workersForCpuLimit(4), 4);
});

t.test('the config takes workers from the cgroup, unless CPU_LIMIT or WORKERS say otherwise', async (t) => {
  const root = fakeCgroup({ 'cpu.max': '300000 100000' });
  t.equal(loadConfig({}, root).workers, 3, 'cgroup quota of 3 cores');
  t.equal(loadConfig({ CPU_LIMIT: '2' }, root).workers, 2, 'CPU_LIMIT (Downward API) wins over the cgroup');
  t.equal(loadConfig({ CPU_LIMIT: '2', WORKERS: '5' }, root).workers, 5, 'WORKERS wins over both');
});

t.test('the service started with CPU_LIMIT of 1, 2 and 3 runs that many warm workers', async (t) => {
  for (const limit of [1, 2, 3]) {
    const service = await startService({ CPU_LIMIT: String(limit), WORKERS: '' });
    t.equal(metric(await exposition(service.url), 'inf_workers'), limit, `CPU_LIMIT=${limit}: inf_workers`);
    t.equal(
      service
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"model worker warm"')).length,
      limit,
      `CPU_LIMIT=${limit}: warm threads`,
    );
    await service.stop();
  }
});

t.test('an invalid setting stops the start with one clear message', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be integer/);
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL must be equal to one of the allowed values/);
  t.throws(() => loadConfig({ REDIS_PORT: 'x' }), /REDIS_PORT must be a port/);
});

t.test('a missing model directory exits non-zero naming the path and how to get the model', async (t) => {
  const service = await startService({ MODEL_DIR: '/nonexistent/model' }, { waitHealthy: false });
  const [code] = [await new Promise<number | null>((resolve) => service.child.on('exit', resolve))];
  t.equal(code, 1);
  t.match(service.output(), /model file not found: \/nonexistent\/model\/config\.json/);
  t.match(service.output(), /npm run model:fetch/);
});

t.test('REDIS_PORT alone, or a Kubernetes service link, gives a Redis URL', async (t) => {
  t.equal(loadConfig({ REDIS_PORT: '6380' }).redisUrl, 'redis://localhost:6380');
  t.equal(loadConfig({ REDIS_PORT: 'tcp://10.0.0.7:6379' }).redisUrl, 'redis://10.0.0.7:6379');
  t.equal(loadConfig({ REDIS_URL: 'redis://r:1/2', REDIS_PORT: '9' }).redisUrl, 'redis://r:1/2');
  t.equal(loadConfig({}).redisUrl, undefined);
});

t.test("a config.json whose labels do not match the model's outputs stops the start, naming both", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'three-labels-'));
  symlinkSync(join(STANDIN_MODEL_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  symlinkSync(join(STANDIN_MODEL_DIR, 'onnx'), join(dir, 'onnx'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ id2label: { 0: 'NEGATIVE', 1: 'NEUTRAL', 2: 'POSITIVE' }, pad_token_id: 0 }));
  const service = await startService({ MODEL_DIR: dir }, { waitHealthy: false });
  const code = await new Promise<number | null>((resolve) => service.child.on('exit', resolve));
  t.equal(code, 1);
  t.match(service.output(), /gives 2 logits per text, but config\.json's id2label has 3 labels/);
});
