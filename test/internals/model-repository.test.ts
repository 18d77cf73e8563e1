// ModelRepository's bookkeeping while a load is under way, made deterministic by holding the load at a gate: a
// second load or an unload of the name is refused 409 (also during a model's first load, which is not served
// yet), and the index shows the version that still serves while a new one loads, until that one serves.
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ModelRepository, type RepositoryOptions } from '../../dist/src/model-repository/model-repository.js';
import type { ModelParts, SharedParts } from '../../dist/src/model-repository/served-model.js';
import type { ReadModel } from '../../dist/src/model-repository/read-model.js';
import type { ThreadLayout } from '../../dist/src/inference/thread-layout.js';

/** A promise resolved or rejected from outside. */
function gate<T>() {
  let open!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** Resolves once `check` holds, looking after each turn of the event loop (the repository's awaits are I/O). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

/** What ModelRepository reads of a model directory; `id` is its version. */
const readModel = (id: string): ReadModel =>
  ({
    info: { id, onnxPath: '/nowhere/model.onnx', labels: ['a', 'b'], padId: 0, typeId: undefined, maxTokens: 8 },
    settings: {},
    modelBytes: 1,
  }) as unknown as ReadModel;

/** A model served since the start, as far as the repository looks at it before a new version serves. */
const servedParts = (name: string, version: string): ModelParts => ({
  served: { name, version } as ModelParts['served'],
  close: async () => {},
});

/** A repository over a directory holding `names`, whose reads and thread loads the test releases. */
async function repositoryOf(
  t: Test,
  names: readonly string[],
  started: readonly ModelParts[],
  read: RepositoryOptions['read'],
  onEveryThread: () => Promise<unknown>,
): Promise<ModelRepository> {
  const root = await mkdtemp(join(tmpdir(), 'repository-unit-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const name of names) await mkdir(join(root, name));
  const layout = { isTimed: () => true, onEveryThread, timed: () => {}, forget: () => {} } as unknown as ThreadLayout;
  return new ModelRepository(
    {
      root,
      defaultName: names[0]!,
      shared: { pool: { size: 1 } } as unknown as SharedParts,
      layout,
      logger: pino({ level: 'silent' }),
      memoryBudgetBytes: undefined,
      read,
      rss: () => 0,
    },
    started,
  );
}

t.test("a model's first load: a second load and an unload of it are 409 until it ends", async (t) => {
  const reading = gate<ReadModel>();
  let reads = 0;
  const read = (): Promise<ReadModel> => {
    reads++;
    return reading.promise;
  };
  const repository = await repositoryOf(t, ['fresh'], [], read, async () => []);
  const first = repository.load('fresh');
  // The directory is read once the load holds the name.
  await until(() => reads === 1);
  await t.rejects(repository.load('fresh'), { code: 'INF_ERR_MODEL_BUSY' }, 'a second load');
  t.equal(reads, 1, 'which read nothing');
  await t.rejects(repository.unload('fresh'), { code: 'INF_ERR_MODEL_BUSY' }, 'an unload: busy, not "not found"');
  reading.fail(new Error('config.json: no id2label'));
  await t.rejects(first, { code: 'INF_ERR_MODEL_LOAD', message: 'Model fresh could not be loaded: config.json: no id2label' });
  t.same(await repository.index(), [
    { name: 'fresh', version: '', state: 'UNAVAILABLE', reason: 'Model fresh could not be loaded: config.json: no id2label' },
  ]);
  await t.rejects(repository.unload('fresh'), { code: 'INF_ERR_MODEL_NOT_FOUND' }, 'once it ended: not served, so not found');
});

t.test('while a new version loads, the index shows the one that serves; a failed load leaves it serving', async (t) => {
  const loading = gate<unknown>();
  let threadLoads = 0;
  const repository = await repositoryOf(
    t,
    ['model'],
    [servedParts('model', 'v1')],
    async () => readModel('v2'),
    () => (threadLoads++ === 0 ? loading.promise : Promise.resolve([])),
  );
  const load = repository.load('model');
  await until(() => threadLoads === 1);
  t.same(await repository.index(), [{ name: 'model', version: 'v1', state: 'READY', reason: '' }], 'v1 serves while v2 loads');
  t.equal(repository.get('model')?.version, 'v1');
  await t.rejects(repository.unload('model'), { code: 'INF_ERR_MODEL_BUSY' });
  loading.fail(new Error('the thread ran out of memory'));
  await t.rejects(load, { code: 'INF_ERR_MODEL_LOAD' });
  t.equal(threadLoads, 2, 'what the threads had loaded of v2 is released');
  const [entry] = await repository.index();
  t.same([entry?.version, entry?.state], ['v1', 'READY'], 'v1 still serves');
  t.match(entry?.reason, /could not be loaded: the thread ran out of memory/, 'and the index says why v2 did not');
});
