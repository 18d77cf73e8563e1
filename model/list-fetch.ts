// `npm run model:fetch -- --list FILE --dest DIR`: every model of a list (model-list.ts) into DIR/<name>/, a
// repository directory for MODEL_REPOSITORY. Each model is one fetchRepo (its lock, its pins); one model's
// failure does not stop the others, and the list fails at the end naming each model that failed.
import { join, resolve } from 'node:path';
import { FetchErrors, ModelFetchError } from './errors.js';
import type { ModelListEntry } from './model-list.js';
import { fetchRepo, type RepoFetchOptions, type RepoFetchResult } from './repo-fetch.js';

export interface ListFetchOptions extends Omit<RepoFetchOptions, 'repo' | 'revision' | 'file' | 'pins' | 'destDir'> {
  readonly models: readonly ModelListEntry[];
  /** The repository directory: each model goes into <destDir>/<name>/. */
  readonly destDir: string;
  /** Called before each model, so progress lines can be told apart. */
  readonly onModel?: (entry: ModelListEntry, destDir: string) => void;
}

export interface ListModelResult extends RepoFetchResult {
  readonly name: string;
}

/**
 * Fetches every model of the list, one after the other. A model already in place and matching its lock and
 * pins downloads nothing. Throws MODEL_ERR_LIST_INCOMPLETE after trying them all when any failed; each
 * model's own error (its code, the model named in the message) is in `cause.errors`.
 */
export async function fetchList(options: ListFetchOptions): Promise<readonly ListModelResult[]> {
  const { models, destDir, onModel, ...rest } = options;
  const results: ListModelResult[] = [];
  const failed: ModelFetchError[] = [];
  for (const entry of models) {
    const modelDir = join(resolve(destDir), entry.name);
    onModel?.(entry, modelDir);
    try {
      const result = await fetchRepo({
        ...rest,
        repo: entry.repo,
        revision: entry.revision,
        file: entry.file,
        pins: entry.files,
        destDir: modelDir,
      });
      results.push({ ...result, name: entry.name });
    } catch (err) {
      // Anything but a fetch error is a bug: stop rather than report it as one model's failure.
      if (!(err instanceof ModelFetchError)) throw err;
      failed.push(FetchErrors.InModel(entry.name, `${entry.repo}@${entry.revision}`, err));
    }
  }
  if (failed.length > 0) throw FetchErrors.ListIncomplete(failed, models.length);
  return results;
}
