// Fetches one manifest file into place: resumable .part download, streamed sha256, fsync, atomic rename.
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FetchErrors, ModelFetchError } from './errors.js';
import type { ManifestFile } from './manifest.js';
import type { FetchEvent } from './progress.js';
import { sha256File } from './sha256.js';

export interface DownloadTarget {
  readonly entry: ManifestFile;
  readonly url: string;
  /** Final path; the download goes to `${dest}.part` first. */
  readonly dest: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  readonly onEvent: (event: FetchEvent) => void;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** True when the final file is already there and, when pinned, has the pinned size and hash. */
export async function isInPlace({ size, sha256 }: ManifestFile, dest: string): Promise<boolean> {
  const actual = await sizeOf(dest);
  if (actual === undefined || (size !== null && actual !== size)) return false;
  return sha256 === null || (await sha256File(dest)).digest('hex') === sha256;
}

/** "bytes 100-199/200" -> { start: 100, total: 200 }; total is undefined for "*". */
function parseContentRange(header: string | null): { start: number; total: number | undefined } | undefined {
  const m = header === null ? null : /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

/**
 * Downloads target.entry to `${dest}.part`, resuming from an existing .part, then verifies it and renames
 * it over dest. A network failure leaves the .part for the next attempt; a wrong size or hash deletes it.
 */
export async function download(target: DownloadTarget): Promise<void> {
  const { entry, dest, onEvent } = target;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true }).catch((err) => {
    throw FetchErrors.Disk(dirname(dest), err);
  });
  let offset = (await sizeOf(part)) ?? 0;
  if (entry.size !== null && offset > entry.size) offset = await discard(part);
  // A .part that already has every byte (e.g. killed between download and rename) only needs its hash checked.
  const { length, hash } =
    entry.size !== null && offset === entry.size ? { length: offset, hash: await sha256File(part) } : await fetchInto(target, part, offset);
  if (entry.size !== null && length !== entry.size) {
    await discard(part);
    throw FetchErrors.Size(entry.path, entry.size, length);
  }
  if (entry.sha256 !== null) {
    const actual = hash.digest('hex');
    if (actual !== entry.sha256) {
      await discard(part);
      throw FetchErrors.Checksum(entry.path, entry.sha256, actual);
    }
  } else if (entry.path.endsWith('.json') && !(await isJson(part))) {
    // An unpinned file has nothing to check against; at least refuse an HTML error page saved as config.json.
    await discard(part);
    throw FetchErrors.NotJson(entry.path);
  }
  await commit(part, dest);
  onEvent({ kind: 'done', file: entry.path, bytes: length, verified: entry.sha256 !== null });
}

interface Fetched {
  /** Bytes in the .part, the resumed prefix included. */
  readonly length: number;
  /** sha256 over those same bytes. */
  readonly hash: Hash;
}

/** Requests the bytes from `offset` on and appends them to part. */
async function fetchInto(target: DownloadTarget, part: string, offset: number): Promise<Fetched> {
  const { entry, url, headers, signal, onEvent } = target;
  // At most two rounds: a stale .part is discarded and the second round asks from byte 0, without a Range.
  for (;;) {
    const res = await request(entry.path, url, offset > 0 ? { ...headers, range: `bytes=${offset}-` } : headers, signal);
    const range = res.status === 206 ? parseContentRange(res.headers.get('content-range')) : undefined;
    // 200 to a range request means the server ignores ranges; a 416 or a foreign range means the .part is stale.
    if (offset > 0 && (res.status === 416 || (res.status === 206 && range?.start !== offset))) {
      await res.body?.cancel();
      offset = await discard(part);
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw FetchErrors.HttpStatus(entry.path, url, res.status);
    }
    if (res.status === 200) offset = 0;
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = range?.total ?? (Number.isFinite(length) ? offset + length : undefined);
    // Fail before streaming 268 MB of what is announced as a different file.
    if (entry.size !== null && total !== undefined && total !== entry.size) {
      await res.body?.cancel();
      await discard(part);
      throw FetchErrors.Size(entry.path, entry.size, total);
    }
    // The hash covers the whole file: on a resume, the prefix already on disk is hashed first.
    const hash = offset > 0 ? await sha256File(part) : createHash('sha256');
    onEvent({ kind: 'start', file: entry.path, offset, total: entry.size ?? total });
    return { length: await append(target, res, part, offset, entry.size ?? total, hash), hash };
  }
}

async function request(file: string, url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { headers, signal, redirect: 'follow' });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw FetchErrors.Network(file, url, err);
  }
}

/**
 * Streams the body to disk and into the hash chunk by chunk. Each write is awaited: memory stays at one
 * chunk, and every byte received before a failure is on disk for the resume. Returns the part's length.
 */
async function append(
  target: DownloadTarget,
  res: Response,
  part: string,
  offset: number,
  total: number | undefined,
  hash: Hash,
): Promise<number> {
  const { entry, url, signal, onEvent } = target;
  const chunks = (res.body ?? new ReadableStream<Uint8Array>())[Symbol.asyncIterator]();
  const handle = await open(part, offset === 0 ? 'w' : 'a').catch((err) => {
    throw FetchErrors.Disk(part, err);
  });
  let received = offset;
  try {
    for (;;) {
      // Only a failure to read the body is a network failure; a failed write is the disk's (ENOSPC, EIO).
      const next = await chunks.next().catch((err) => {
        throw signal?.aborted ? err : FetchErrors.Network(entry.path, url, err);
      });
      if (next.done) break;
      received += next.value.byteLength;
      if (entry.size !== null && received > entry.size) throw FetchErrors.Size(entry.path, entry.size, received);
      hash.update(next.value);
      await handle.write(next.value).catch((err) => {
        throw FetchErrors.Disk(part, err);
      });
      onEvent({ kind: 'data', file: entry.path, received, total });
    }
    await handle.sync().catch((err) => {
      throw FetchErrors.Disk(part, err);
    });
  } catch (err) {
    await chunks.return?.();
    // A cut connection keeps the .part for the resume; bytes of the wrong size are worthless.
    if (err instanceof ModelFetchError && err.code === 'MODEL_ERR_SIZE') {
      await handle.close();
      await discard(part);
    }
    throw err;
  } finally {
    await handle.close().catch(() => {});
  }
  return received;
}

async function discard(part: string): Promise<0> {
  await rm(part, { force: true });
  return 0;
}

async function isJson(file: string): Promise<boolean> {
  try {
    JSON.parse(await readFile(file, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

/** rename() is atomic within a directory; the directory fsync makes the new name survive a power cut. */
async function commit(part: string, dest: string): Promise<void> {
  await rename(part, dest);
  const dir = await open(dirname(dest), 'r');
  try {
    await dir.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    await dir.close();
  }
}
