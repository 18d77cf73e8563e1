// A model list: the models of a repository directory (MODEL_REPOSITORY), each a hub repository at a revision,
// fetched by `npm run model:fetch -- --list FILE --dest DIR` into DIR/<name>/. Validated here, before anything is
// downloaded, with the manifest's rules for repo names, paths, sizes and sha256s.
import { readFile } from 'node:fs/promises';
import { FetchErrors } from './errors.js';
import { parseManifest, type ManifestFile } from './manifest.js';
import { DEFAULT_ONNX_FILE, OPTIONAL_FILES, REQUIRED_FILES } from './repo-fetch.js';

export interface ModelListEntry {
  /** The model's directory under --dest, which is the name the server serves it under. */
  readonly name: string;
  readonly repo: string;
  /** A commit id, or a branch pinned by `files` (or by the lock the first fetch writes). */
  readonly revision: string;
  /** The ONNX file, relative to the repository root. */
  readonly file: string;
  /** Sizes and sha256s the fetched files must have; a file not listed is trusted on first use. */
  readonly files: readonly ManifestFile[];
}

/** The server's rule for a model name (a directory of MODEL_REPOSITORY, a path segment of the routes). */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const ENTRY_KEYS = new Set(['name', 'repo', 'revision', 'file', 'files', 'comment', '$comment']);

function checkEntry(value: unknown, where: string, source: string): ModelListEntry {
  const fail = (problem: string) => FetchErrors.List(source, `${where}: ${problem}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('must be an object');
  const raw = value as Record<string, unknown>;
  // A misspelt "revison" or "sha265" must not quietly fetch main or skip a pin.
  const unknown = Object.keys(raw).filter((key) => !ENTRY_KEYS.has(key));
  if (unknown.length > 0) throw fail(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  if (typeof raw.name !== 'string' || !MODEL_NAME.test(raw.name)) {
    throw fail(`name must be 1-128 letters, digits, ".", "_" or "-", not starting with "." "_" or "-"; got ${JSON.stringify(raw.name)}`);
  }
  if (typeof raw.revision !== 'string' || raw.revision === '') throw fail('revision must be a non-empty string (a commit id, or a branch)');
  const file = raw.file ?? DEFAULT_ONNX_FILE;
  if (raw.files !== undefined && !Array.isArray(raw.files)) throw fail('files must be an array of { path, size, sha256 }');
  // The manifest's checks (MODEL_ERR_MANIFEST): "owner/name", and paths that stay inside the model's directory;
  // `file` is checked as the one file of the variant "file".
  const manifest = parseManifest(
    {
      repo: raw.repo,
      revision: raw.revision,
      defaultVariant: 'file',
      files: raw.files ?? [],
      variants: { file: [{ path: file, size: null, sha256: null }] },
    },
    `${source}, ${where} "${raw.name}"`,
  );
  const fetched = new Set<string>([...REQUIRED_FILES, ...OPTIONAL_FILES, file as string]);
  const paths = manifest.files.map((f) => f.path);
  const stray = paths.find((path) => !fetched.has(path));
  if (stray !== undefined) throw fail(`files pins ${stray}, which is not fetched (only ${[...fetched].join(', ')})`);
  const twice = paths.find((path, i) => paths.indexOf(path) !== i);
  if (twice !== undefined) throw fail(`files pins ${twice} twice`);
  return { name: raw.name, repo: manifest.repo, revision: manifest.revision, file: file as string, files: manifest.files };
}

/** Validates a parsed list; `source` names it in error messages. */
export function parseModelList(value: unknown, source = 'model list'): readonly ModelListEntry[] {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { models?: unknown }).models)) {
    throw FetchErrors.List(source, 'must be a JSON object with a "models" array');
  }
  const models = (value as { models: unknown[] }).models;
  if (models.length === 0) throw FetchErrors.List(source, 'models is empty');
  const entries = models.map((entry, i) => checkEntry(entry, `models[${i}]`, source));
  // Names are directories: two entries of one name would write into one directory, and case-insensitive
  // filesystems would merge "A" and "a".
  const seen = new Map<string, string>();
  for (const { name } of entries) {
    const other = seen.get(name.toLowerCase());
    if (other !== undefined) throw FetchErrors.List(source, `the name "${name}" is used twice${other === name ? '' : ` (as "${other}")`}`);
    seen.set(name.toLowerCase(), name);
  }
  return entries;
}

export async function loadModelList(file: string): Promise<readonly ModelListEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw FetchErrors.List(file, (err as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw FetchErrors.List(file, `is not JSON (${(err as Error).message})`);
  }
  return parseModelList(parsed, file);
}
