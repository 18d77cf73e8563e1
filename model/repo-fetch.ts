// `npm run model:fetch -- --repo <owner/name> --revision <commit>`: any text-classification repository with an
// ONNX export, not only the pinned one. Nothing is pinned in advance, so the first fetch writes model.lock.json
// (trust on first use) and every later fetch, and the service at start, verify the files against it.
import { join, resolve } from 'node:path';
import { FetchErrors, ModelFetchError } from './errors.js';
import { packageRoot } from './paths.js';
import { fetchModel, type FetchOptions, type FetchResult } from './manifest-fetch.js';
import { lockAsManifest, readLock, writeLock, type ModelLock } from './lock.js';
import { parseManifest, type Manifest, type ManifestFile } from './manifest.js';

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
  /**
   * Sizes and sha256s known in advance (a model list's `files`): the first fetch verifies those files against
   * them instead of trusting the hub, and a lock that disagrees with them is refused.
   */
  readonly pins?: readonly ManifestFile[];
}

export interface RepoFetchResult extends FetchResult {
  readonly lock: ModelLock;
  /** True when this fetch wrote the lock. */
  readonly locked: boolean;
}

/** Where a repository goes when no --dest is given: model/<owner>--<name>/ (git-ignored like the pinned one). */
export const defaultRepoDir = (repo: string): string => join(packageRoot, 'model', repo.replace('/', '--'));

/**
 * A manifest of the given files, each with its pin when there is one (else size and sha256 null); parseManifest
 * checks the repo name and that no path leaves destDir.
 */
function manifestOf(repo: string, revision: string, paths: readonly string[], pins: readonly ManifestFile[]): Manifest {
  const files = paths.map((path) => pins.find((pin) => pin.path === path) ?? { path, size: null, sha256: null });
  return parseManifest({ repo, revision, defaultVariant: 'all', files, variants: { all: [] } }, '--repo/--revision/--file');
}

/** The first pin the lock contradicts, described; undefined when the lock agrees with every pin. */
function pinLockConflict(lock: ModelLock, pins: readonly ManifestFile[]): string | undefined {
  for (const pin of pins) {
    const locked = lock.files.find((f) => f.path === pin.path);
    if (locked === undefined) return `has no ${pin.path}, which is pinned`;
    if (pin.sha256 !== null && pin.sha256 !== locked.sha256)
      return `has ${pin.path} with sha256 ${locked.sha256}, the pin says ${pin.sha256}`;
    if (pin.size !== null && pin.size !== locked.size) return `has ${pin.path} with ${locked.size} bytes, the pin says ${pin.size}`;
  }
  return undefined;
}

export async function fetchRepo(options: RepoFetchOptions): Promise<RepoFetchResult> {
  const { repo, revision = 'main', file = DEFAULT_ONNX_FILE, pins = [], ...rest } = options;
  const destDir = resolve(options.destDir ?? defaultRepoDir(repo));
  const lock = await readLock(destDir);
  if (lock !== undefined) {
    if (lock.repo !== repo || lock.revision !== revision || lock.onnxFile !== file) {
      throw FetchErrors.Lock(
        join(destDir, 'model.lock.json'),
        `pins ${lock.repo}@${lock.revision} (${lock.onnxFile}), not ${repo}@${revision} (${file}); fetch into another --dest, or delete the lock to re-pin`,
      );
    }
    const conflict = pinLockConflict(lock, pins);
    if (conflict !== undefined) {
      throw FetchErrors.Lock(join(destDir, 'model.lock.json'), `${conflict}; delete the directory to fetch the pinned files`);
    }
    return { ...(await fetchModel({ ...rest, manifest: lockAsManifest(lock), destDir })), lock, locked: false };
  }

  // Files already in the directory did not come from this fetch: trust on first use means the hub's bytes.
  const fetched: string[] = [...REQUIRED_FILES];
  await fetchModel({ ...rest, manifest: manifestOf(repo, revision, fetched, pins), destDir, refetch: true });
  for (const optional of OPTIONAL_FILES) {
    try {
      await fetchModel({ ...rest, manifest: manifestOf(repo, revision, [optional], pins), destDir, refetch: true });
      fetched.push(optional);
    } catch (err) {
      // A pinned file is expected to be there: its 404 is an error like any other.
      const pinned = pins.some((pin) => pin.path === optional);
      if (!(err instanceof ModelFetchError && err.status === 404) || pinned) throw err;
    }
  }
  // The ONNX file last: a wrong repository or revision fails on a small file first.
  await fetchModel({ ...rest, manifest: manifestOf(repo, revision, [file], pins), destDir, refetch: true });
  fetched.push(file);
  const written = await writeLock(destDir, { repo, revision, onnxFile: file }, fetched);
  return { destDir, variant: 'locked', downloaded: fetched, present: [], lock: written, locked: true };
}
