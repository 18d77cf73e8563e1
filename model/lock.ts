// model.lock.json: what the first fetch of an unpinned repository found (trust on first use, like a package
// lockfile). Written beside the model by `npm run model:fetch -- --repo`, verified by later fetches and by the
// service at start.
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FetchErrors } from './errors.js';
import { parseManifest, type Manifest, type ManifestFile } from './manifest.js';
import { sha256OfFile } from './sha256.js';

export const LOCK_FILE = 'model.lock.json';

export interface ModelLock {
  readonly repo: string;
  readonly revision: string;
  /** The ONNX file among `files`. */
  readonly onnxFile: string;
  /** Every fetched file with the size and sha256 it had on first fetch. */
  readonly files: readonly { readonly path: string; readonly size: number; readonly sha256: string }[];
}

/** The lock in `dir`, or undefined when there is none; a lock that does not parse is an error, never ignored. */
export async function readLock(dir: string): Promise<ModelLock | undefined> {
  const file = join(dir, LOCK_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw FetchErrors.Lock(file, (err as Error).message);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw FetchErrors.Lock(file, `is not JSON (${(err as Error).message})`);
  }
  // The same path, size and sha256 rules as the pinned manifest, and every entry must be pinned.
  const manifest = parseManifest({ ...raw, defaultVariant: 'locked', variants: { locked: [] } }, file);
  const files = manifest.files.map(({ path, size, sha256 }) => {
    if (size === null || sha256 === null) throw FetchErrors.Lock(file, `${path} has no size or sha256`);
    return { path, size, sha256 };
  });
  if (typeof raw.onnxFile !== 'string' || !files.some((f) => f.path === raw.onnxFile)) {
    throw FetchErrors.Lock(file, 'onnxFile must name one of its files');
  }
  return { repo: manifest.repo, revision: manifest.revision, onnxFile: raw.onnxFile, files };
}

/** Hashes the fetched files and writes the lock atomically (a torn lock would refuse the model next time). */
export async function writeLock(dir: string, lock: Omit<ModelLock, 'files'>, paths: readonly string[]): Promise<ModelLock> {
  const files = [];
  for (const path of paths) {
    const file = join(dir, ...path.split('/'));
    files.push({ path, size: (await stat(file)).size, sha256: await sha256OfFile(file) });
  }
  const complete: ModelLock = { ...lock, files };
  const body = {
    $comment:
      'Written by `npm run model:fetch -- --repo` on the first fetch (trust on first use). Later fetches and the service at start refuse any file that differs. Delete it to accept new upstream files.',
    ...complete,
  };
  const target = join(dir, LOCK_FILE);
  await writeFile(`${target}.part`, `${JSON.stringify(body, null, 2)}\n`);
  await rename(`${target}.part`, target);
  return complete;
}

/** The lock as a manifest, so a later fetch downloads and verifies exactly what the first one found. */
export function lockAsManifest(lock: ModelLock): Manifest {
  return {
    repo: lock.repo,
    revision: lock.revision,
    defaultVariant: 'locked',
    files: lock.files as ManifestFile[],
    variants: { locked: [] },
  };
}

/**
 * The first file in `dir` that differs from the lock (size, then sha256), or undefined when all match.
 * `hashed` holds sha256s the caller computed already (the service hashes the ONNX file anyway).
 */
export async function findLockMismatch(
  dir: string,
  lock: ModelLock,
  hashed: Readonly<Record<string, string>> = {},
): Promise<string | undefined> {
  for (const { path, size, sha256 } of lock.files) {
    const file = join(dir, ...path.split('/'));
    const actual = await stat(file).catch(() => undefined);
    if (!actual?.isFile()) return `${path} is missing`;
    if (actual.size !== size) return `${path} has ${actual.size} bytes, the lock says ${size}`;
    const hash = Object.hasOwn(hashed, path) ? hashed[path] : await sha256OfFile(file);
    if (hash !== sha256) return `${path} has sha256 ${hash}, the lock says ${sha256}`;
  }
  return undefined;
}
