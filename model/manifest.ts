// The pin of the model on the hub: which files to fetch, and the size and sha256 each must have.
import { readFile } from 'node:fs/promises';
import { FetchErrors } from './errors.js';

/** One file of the repo. size/sha256 are null when not pinned: then only its presence is checked. */
export interface ManifestFile {
  readonly path: string;
  readonly size: number | null;
  readonly sha256: string | null;
}

export interface Manifest {
  readonly repo: string;
  readonly revision: string;
  readonly defaultVariant: string;
  /** Fetched for every variant. */
  readonly files: readonly ManifestFile[];
  readonly variants: Readonly<Record<string, readonly ManifestFile[]>>;
}

const SHA256 = /^[0-9a-f]{64}$/;

function checkFile(value: unknown, where: string, source: string): ManifestFile {
  const fail = (problem: string) => FetchErrors.Manifest(source, `${where}: ${problem}`);
  if (typeof value !== 'object' || value === null) throw fail('must be an object');
  const { path, size, sha256 } = value as Record<string, unknown>;
  // The path is joined onto the destination directory, so it must not be able to leave it.
  if (typeof path !== 'string' || path === '' || path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw fail(`path must be a relative path without "." or ".." segments, got ${JSON.stringify(path)}`);
  }
  if (size !== null && !(Number.isSafeInteger(size) && (size as number) >= 0)) throw fail('size must be a byte count or null');
  if (sha256 !== null && !(typeof sha256 === 'string' && SHA256.test(sha256))) throw fail('sha256 must be 64 lowercase hex digits or null');
  return { path, size: size as number | null, sha256: sha256 as string | null };
}

/** Validates a parsed manifest; `source` names it in error messages. Unknown top-level keys are allowed. */
export function parseManifest(value: unknown, source = 'manifest'): Manifest {
  if (typeof value !== 'object' || value === null) throw FetchErrors.Manifest(source, 'must be a JSON object');
  const raw = value as Record<string, unknown>;
  for (const key of ['repo', 'revision', 'defaultVariant'] as const) {
    if (typeof raw[key] !== 'string' || raw[key] === '') throw FetchErrors.Manifest(source, `${key} must be a non-empty string`);
  }
  if (!/^[\w.-]+\/[\w.-]+$/.test(raw.repo as string)) throw FetchErrors.Manifest(source, 'repo must look like "owner/name"');
  if (!Array.isArray(raw.files)) throw FetchErrors.Manifest(source, 'files must be an array');
  if (typeof raw.variants !== 'object' || raw.variants === null) throw FetchErrors.Manifest(source, 'variants must be an object');
  const variants: Record<string, ManifestFile[]> = {};
  for (const [name, files] of Object.entries(raw.variants)) {
    if (!Array.isArray(files)) throw FetchErrors.Manifest(source, `variants.${name} must be an array`);
    variants[name] = files.map((f, i) => checkFile(f, `variants.${name}[${i}]`, source));
  }
  if (!((raw.defaultVariant as string) in variants))
    throw FetchErrors.Manifest(source, `defaultVariant "${raw.defaultVariant}" is not in variants`);
  return {
    repo: raw.repo as string,
    revision: raw.revision as string,
    defaultVariant: raw.defaultVariant as string,
    files: raw.files.map((f, i) => checkFile(f, `files[${i}]`, source)),
    variants,
  };
}

export async function loadManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw FetchErrors.Manifest(file, (err as Error).message);
  }
  try {
    return parseManifest(JSON.parse(text), file);
  } catch (err) {
    if (err instanceof SyntaxError) throw FetchErrors.Manifest(file, err.message);
    throw err;
  }
}

/** The files of one variant: the shared ones first, so a wrong token or repo fails on a small file. */
export function filesOf(manifest: Manifest, variant = manifest.defaultVariant): readonly ManifestFile[] {
  const own = Object.hasOwn(manifest.variants, variant) ? manifest.variants[variant] : undefined;
  if (own === undefined) {
    throw FetchErrors.Usage(`unknown variant "${variant}"; this manifest has: ${Object.keys(manifest.variants).join(', ')}`);
  }
  return [...manifest.files, ...own];
}
