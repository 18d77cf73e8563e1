// A model repository for the tests (MODEL_REPOSITORY): a temporary directory of symlinks to two real models with
// different label sets, the stand-in sentiment model and the NLI fixture (3 labels, token_type_ids), served as
// `sentiment` (the default) and `nli`.
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAIR_FIXTURE_MODELS } from './fixture-models.js';
import { STANDIN_MODEL_DIR } from './helper.js';

/** Each model of the repository by its name there: the directory it is a link to. */
export const REPOSITORY_MODELS = { sentiment: STANDIN_MODEL_DIR, nli: PAIR_FIXTURE_MODELS.nli.dir } as const;

export interface ModelRepositoryDir {
  readonly dir: string;
  /** The service's environment to serve it (MODEL_DIR emptied: the two are exclusive). */
  readonly env: Record<string, string>;
  remove(): Promise<void>;
}

export async function twoModelRepository(): Promise<ModelRepositoryDir> {
  const dir = await mkdtemp(join(tmpdir(), 'model-repository-'));
  for (const [name, target] of Object.entries(REPOSITORY_MODELS)) await symlink(target, join(dir, name));
  return {
    dir,
    env: { MODEL_DIR: '', MODEL_REPOSITORY: dir, DEFAULT_MODEL: 'sentiment' },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
