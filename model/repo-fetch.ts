// `npm run model:fetch -- --repo <owner/name> --revision <commit>`: any text-classification repository with an
// ONNX export, not only the pinned one. Nothing is pinned in advance, so the first fetch writes model.lock.json
// (trust on first use) and every later fetch, and the service at start, verify the files against it.
import { join, resolve } from 'node:path';
import { FetchErrors, ModelFetchError } from './errors.js';
import { packageRoot } from './paths.js';
import { fetchModel, type FetchOptions, type FetchResult } from './manifest-fetch.js';
import { lockAsManifest, readLock, writeLock, type ModelLock } from './lock.js';
import { parseManifest, type Manifest } from './manifest.js';

/** What the server loads (config.json, tokenizer.json) and the ONNX export's usual file in hub repositories. */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json'] as const;
/** Fetched when the repository has them: the pad token and model_max_length live here. */
export const OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json'] as const;
export const DEFAULT_ONNX_FILE = 'onnx/model_quantized.onnx';

export interface RepoFetchOptions extends Omit<FetchOptions, 'manifest' | 'variant' | 'repo' | 'revision'> {
  readonly repo: string;
  /** A commit id pins the repository; a branch (default "main") is pinned by the lock after the first fetch. */
  readonly revision?: string;
  /** The ONNX file, relative to the repository root. Default onnx/model_quantized.onnx. */
  readonly file?: string;
}

export interface RepoFetchResult extends FetchResult {
  readonly lock: ModelLock;
  /** True when this fetch wrote the lock. */
  readonly locked: boolean;
}

/** Where a repository goes when no --dest is given: model/<owner>--<name>/ (git-ignored like the pinned one). */
export const defaultRepoDir = (repo: string): string => join(packageRoot, 'model', repo.replace('/', '--'));

/** An unpinned manifest of the given files; parseManifest checks the repo name and that no path leaves destDir. */
function unpinned(repo: string, revision: string, paths: readonly string[]): Manifest {
  return parseManifest(
    { repo, revision, defaultVariant: 'all', files: paths.map((path) => ({ path, size: null, sha256: null })), variants: { all: [] } },
    '--repo/--revision/--file',
  );
}

export async function fetchRepo(options: RepoFetchOptions): Promise<RepoFetchResult> {
  const { repo, revision = 'main', file = DEFAULT_ONNX_FILE, ...rest } = options;
  const destDir = resolve(options.destDir ?? defaultRepoDir(repo));
  const lock = await readLock(destDir);
  if (lock !== undefined) {
    if (lock.repo !== repo || lock.revision !== revision || lock.onnxFile !== file) {
      throw FetchErrors.Lock(
        join(destDir, 'model.lock.json'),
        `pins ${lock.repo}@${lock.revision} (${lock.onnxFile}), not ${repo}@${revision} (${file}); fetch into another --dest, or delete the lock to re-pin`,
      );
    }
    return { ...(await fetchModel({ ...rest, manifest: lockAsManifest(lock), destDir })), lock, locked: false };
  }

  // Files already in the directory did not come from this fetch: trust on first use means the hub's bytes.
  const fetched: string[] = [...REQUIRED_FILES];
  await fetchModel({ ...rest, manifest: unpinned(repo, revision, fetched), destDir, refetch: true });
  for (const optional of OPTIONAL_FILES) {
    try {
      await fetchModel({ ...rest, manifest: unpinned(repo, revision, [optional]), destDir, refetch: true });
      fetched.push(optional);
    } catch (err) {
      if (!(err instanceof ModelFetchError && err.status === 404)) throw err;
    }
  }
  // The ONNX file last: a wrong repository or revision fails on a small file first.
  await fetchModel({ ...rest, manifest: unpinned(repo, revision, [file]), destDir, refetch: true });
  fetched.push(file);
  const written = await writeLock(destDir, { repo, revision, onnxFile: file }, fetched);
  return { destDir, variant: 'locked', downloaded: fetched, present: [], lock: written, locked: true };
}
