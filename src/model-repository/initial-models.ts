import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { Errors, StartupError } from '../errors.js';
import { readModel, type ReadModel, type ReadSettings } from './read-model.js';
import { listRepository, type ModelSource } from './repository-dir.js';

/** The models the process starts with, read and checked, the default first. */
export interface InitialModels {
  /** MODEL_REPOSITORY, or undefined when MODEL_DIR alone is served. */
  readonly root: string | undefined;
  readonly defaultName: string;
  readonly models: readonly { readonly name: string; readonly read: ReadModel }[];
}

/**
 * Reads every model of MODEL_REPOSITORY (or MODEL_DIR, a repository of one named as the Open Inference Protocol
 * has always named it: the hub repository's last part, else the directory's name) and picks the default. A
 * directory that cannot be served stops the start, naming the model and why.
 */
export async function readInitialModels(config: Config, settings: ReadSettings, logger: Logger): Promise<InitialModels> {
  if (config.modelRepository === undefined) {
    const read = await readModel({ name: '', dir: config.modelDir }, settings);
    const name = read.info.repo?.split('/').pop() ?? basename(read.info.dir);
    if (config.defaultModel !== undefined && config.defaultModel !== name) {
      throw Errors.ModelRepository(`DEFAULT_MODEL is ${JSON.stringify(config.defaultModel)}, but MODEL_DIR serves one model, ${name}`);
    }
    return { root: undefined, defaultName: name, models: [{ name, read }] };
  }
  const root = config.modelRepository;
  const { models: sources, skipped } = await listRepository(root).catch((err: Error) => {
    throw Errors.ModelRepository(`${root} cannot be read (${err.message})`);
  });
  if (skipped.length > 0) logger.warn({ skipped }, 'model repository entries that are not model directories, left out');
  if (sources.length === 0) throw Errors.ModelRepository(`${root} holds no model directory`);
  const names = sources.map((source) => source.name);
  const defaultName = config.defaultModel ?? (names.length === 1 ? names[0] : undefined);
  if (defaultName === undefined) {
    throw Errors.ModelRepository(`it serves ${names.join(', ')}; set DEFAULT_MODEL to the one the routes without a model name serve`);
  }
  if (!names.includes(defaultName)) {
    throw Errors.ModelRepository(`DEFAULT_MODEL is ${JSON.stringify(defaultName)}, which is not one of ${names.join(', ')}`);
  }
  const ordered = [...sources].sort((a, b) => Number(b.name === defaultName) - Number(a.name === defaultName));
  const models = [];
  for (const source of ordered) models.push({ name: source.name, read: await readNamed(source, settings) });
  return { root, defaultName, models };
}

async function readNamed(source: ModelSource, settings: ReadSettings): Promise<ReadModel> {
  try {
    return await readModel(source, { ...settings, modelFile: undefined });
  } catch (err) {
    const code = err instanceof StartupError ? err.code : 'INF_ERR_MODEL_INVALID';
    throw new StartupError(code, `model ${source.name}: ${(err as Error).message}`);
  }
}
