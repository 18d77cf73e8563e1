// A temporary MODEL_REPOSITORY of the stand-in model under several names (the same files under two names are two
// models to the service: their own sessions, queues and admission), and the settings that serve it.
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDIN_MODEL_DIR } from '../../test/harness.js';

export interface StandInRepository {
  /** MODEL_REPOSITORY and DEFAULT_MODEL (the first name), with MODEL_DIR empty: unset, since it excludes MODEL_REPOSITORY. */
  readonly env: Record<string, string>;
  remove(): Promise<void>;
}

export async function standInRepository(names: readonly string[]): Promise<StandInRepository> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-models-'));
  for (const name of names) await symlink(STANDIN_MODEL_DIR, join(dir, name));
  return {
    env: { MODEL_DIR: '', MODEL_REPOSITORY: dir, DEFAULT_MODEL: names[0]! },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
