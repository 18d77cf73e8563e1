import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A model of the repository: its name (on every route) and its directory. */
export interface ModelSource {
  readonly name: string;
  readonly dir: string;
}

/**
 * What a model may be called: one path segment that needs no escaping in a URL (Triton's and KServe's names are
 * the same kind), so a name is the same in every protocol and log.
 */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The models of MODEL_REPOSITORY: its sub-directories (symbolic links followed) whose names are model names,
 * sorted; anything else there is reported in `skipped` (a file, a hidden directory, a name a URL cannot carry).
 */
export async function listRepository(root: string): Promise<{ models: ModelSource[]; skipped: string[] }> {
  const models: ModelSource[] = [];
  const skipped: string[] = [];
  for (const entry of (await readdir(root)).sort()) {
    const dir = join(root, entry);
    const isDir = (await stat(dir).catch(() => undefined))?.isDirectory() ?? false;
    if (isDir && MODEL_NAME.test(entry)) models.push({ name: entry, dir });
    else if (!entry.startsWith('.')) skipped.push(entry);
  }
  return { models, skipped };
}

/** The directory `name` would be in (a load asks for it by name); undefined for a name that is no model name. */
export function sourceOf(root: string, name: string): ModelSource | undefined {
  return MODEL_NAME.test(name) ? { name, dir: join(root, name) } : undefined;
}
