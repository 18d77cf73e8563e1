// Where the bench finds the repo's files. Resolved from this module, so the bench runs from any cwd.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest ancestor of this file that holds package.json (works from bench/lib and dist/bench/lib). */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bench: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const REPO_ROOT = findRepoRoot();
/** The stand-in model, beside the repo in shared/ (see its README). */
export const STANDIN_MODEL_DIR = resolve(REPO_ROOT, '..', 'shared', 'models', 'distilbert-sst2-standin');
/** SST-2 dev sentences: the source of the unique texts of the model-bound scenarios. */
export const SST2_DEV_TSV = resolve(REPO_ROOT, '..', 'shared', 'data', 'sst2', 'dev.tsv');
export const SERVICE_MAIN_JS = join(REPO_ROOT, 'dist', 'src', 'main.js');
export const PEER_JS = join(REPO_ROOT, 'dist', 'bench', 'peers', 'transformers-peer.js');
export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
