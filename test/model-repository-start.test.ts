// What a model repository takes at start: a broken model directory stops the start naming the model and why, the
// default model must be known when there are several, MODEL_REPOSITORY and MODEL_DIR are exclusive, and a model's
// own model-settings.json is validated and applied to that model alone.
import t, { type Test } from 'tap';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logRecords, STANDIN_MODEL_DIR, startService, type ServiceProcess } from './helper.js';
import { REPOSITORY_MODELS } from './model-repository-dir.js';

const root = await mkdtemp(join(tmpdir(), 'model-repository-start-'));
t.teardown(() => rm(root, { recursive: true, force: true }));

/** A repository directory of these entries: a link to a model directory, or a directory of these files. */
async function repository(name: string, entries: Record<string, string | Record<string, string>>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  for (const [entry, content] of Object.entries(entries)) {
    if (typeof content === 'string') {
      await symlink(content, join(dir, entry));
      continue;
    }
    await mkdir(join(dir, entry));
    for (const [file, text] of Object.entries(content)) await writeFile(join(dir, entry, file), text);
  }
  return dir;
}

/** Starts the service and expects exit 1 with one fatal line: its code and message. */
async function failedStart(t: Test, env: Record<string, string>): Promise<{ code: string; msg: string }> {
  const service = await startService({ GRPC_PORT: '0', ...env }, { waitHealthy: false });
  const { child } = service;
  const exit = child.exitCode ?? (await new Promise((resolve) => child.once('exit', resolve)));
  t.equal(exit, 1, 'exit 1');
  const fatal = logRecords(service.output()).find((r) => r.level === 60);
  return { code: fatal?.code, msg: fatal?.msg };
}

const two = { sentiment: STANDIN_MODEL_DIR, nli: REPOSITORY_MODELS.nli };

t.test('several models and no DEFAULT_MODEL: the start stops and lists them', async (t) => {
  const dir = await repository('two', two);
  const { code, msg } = await failedStart(t, { MODEL_REPOSITORY: dir });
  t.equal(code, 'INF_ERR_MODEL_REPOSITORY');
  t.match(msg, /it serves nli, sentiment; set DEFAULT_MODEL/);
  const unknown = await failedStart(t, { MODEL_REPOSITORY: dir, DEFAULT_MODEL: 'toxicity' });
  t.equal(unknown.code, 'INF_ERR_MODEL_REPOSITORY');
  t.match(unknown.msg, /DEFAULT_MODEL is "toxicity", which is not one of nli, sentiment/);
});

t.test('a repository without a model directory stops the start', async (t) => {
  const dir = await repository('empty', { 'not a model name': {}, '.hidden': {} });
  const { code, msg } = await failedStart(t, { MODEL_REPOSITORY: dir });
  t.equal(code, 'INF_ERR_MODEL_REPOSITORY');
  t.match(msg, /holds no model directory/);
});

t.test('MODEL_REPOSITORY and MODEL_DIR are exclusive', async (t) => {
  const dir = await repository('exclusive', { sentiment: STANDIN_MODEL_DIR });
  const { code, msg } = await failedStart(t, { MODEL_REPOSITORY: dir, MODEL_DIR: STANDIN_MODEL_DIR });
  t.equal(code, 'INF_ERR_CONFIG');
  t.match(msg, /MODEL_REPOSITORY and MODEL_DIR are exclusive/);
});

t.test('a broken model directory stops the start, naming the model and why', async (t) => {
  const dir = await repository('broken', { ...two, toxicity: { 'config.json': '{"id2label": {"0": "ok"}}' } });
  const { code, msg } = await failedStart(t, { MODEL_REPOSITORY: dir, DEFAULT_MODEL: 'sentiment' });
  t.equal(code, 'INF_ERR_MODEL_MISSING');
  t.match(msg, /^model toxicity: model file not found: .*toxicity\/tokenizer\.json/);
});

t.test("a model's model-settings.json: validated, and applied to that model alone", async (t) => {
  const nli = join(root, 'nli-copy');
  await cp(REPOSITORY_MODELS.nli, nli, { recursive: true });
  const dir = await repository('settings', { sentiment: STANDIN_MODEL_DIR, nli });
  await writeFile(join(nli, 'model-settings.json'), '{"maxBatchSize": 0, "maxTokenz": 8}');
  const invalid = await failedStart(t, { MODEL_REPOSITORY: dir, DEFAULT_MODEL: 'sentiment' });
  t.equal(invalid.code, 'INF_ERR_MODEL_INVALID');
  t.match(
    invalid.msg,
    /^model nli: .*model-settings\.json does not match schemas\/model-settings\.json: .*maxTokenz.*maxBatchSize must be >= 1/,
  );

  await writeFile(join(nli, 'model-settings.json'), '{"maxTokens": 16, "maxBatchSize": 4}');
  let service: ServiceProcess | undefined;
  t.teardown(() => service?.stop());
  service = await startService({ GRPC_PORT: '0', MODEL_REPOSITORY: dir, DEFAULT_MODEL: 'sentiment' });
  const info = async (name: string) =>
    (await (await fetch(`${service!.url}/project/models/${name}/info`)).json()) as { max_input_length: number; max_batch_size: number };
  const [own, server] = [await info('nli'), await info('sentiment')];
  t.same([own.max_input_length, own.max_batch_size], [16, 4], "the model's own settings");
  t.same([server.max_input_length, server.max_batch_size], [512, 32], "the other model keeps the server's");
});
