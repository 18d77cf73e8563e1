// Fetching the files a manifest pins (by default the pinned model's, model/manifest.json) from the Hugging Face hub:
// fetchModel, and ensureModel for the service's start. `npm run model:fetch` (fetch.ts) is its command line.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { download, isInPlace } from './download.js';
import { FetchErrors, ModelFetchError } from './errors.js';
import { filesOf, loadManifest, parseManifest, type Manifest, type ManifestFile } from './manifest.js';
import { defaultManifestPath, defaultModelDir } from './paths.js';
import type { FetchEvent } from './progress.js';

export { ModelFetchError } from './errors.js';
export type { Manifest, ManifestFile } from './manifest.js';
export type { FetchEvent } from './progress.js';

export interface FetchOptions {
  /** Hub base URL. Default: env HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: the manifest's repo. */
  repo?: string;
  /** Default: the manifest's revision. The size and sha256 pins still apply: other bytes fail verification. */
  revision?: string;
  /** Default: model/manifest.json of this package, read at call time. */
  manifest?: Manifest;
  /** Default: the manifest's defaultVariant ("quantized"). */
  variant?: string;
  /** Default: defaultModelDir. */
  destDir?: string;
  /** Sent as "Authorization: Bearer"; default: env HF_TOKEN. */
  token?: string;
  onProgress?: (event: FetchEvent) => void;
  /** Extra attempts per file after a network failure or a 408/429/5xx; each one resumes the .part. Default 2. */
  retries?: number;
  /** Wait before retry n is n × this, in ms. Default 1000. */
  retryDelayMs?: number;
  signal?: AbortSignal;
  /** Download even the files already in place (an unpinned file in place proves nothing). Default false. */
  refetch?: boolean;
}

export interface FetchResult {
  readonly destDir: string;
  readonly variant: string;
  /** Manifest paths fetched by this call. */
  readonly downloaded: readonly string[];
  /** Manifest paths that were already in place. */
  readonly present: readonly string[];
}

async function manifestOf(options: FetchOptions): Promise<Manifest> {
  return options.manifest === undefined ? loadManifest(defaultManifestPath) : parseManifest(options.manifest, 'options.manifest');
}

/** An empty HF_ENDPOINT counts as unset; a malformed one is a usage error, not a network failure to retry. */
function hubEndpoint(option: string | undefined): string {
  const endpoint = (option || process.env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) {
    throw FetchErrors.Usage(`the hub endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)} (option endpoint or HF_ENDPOINT)`);
  }
  return endpoint;
}

const retryable = (err: unknown): boolean =>
  err instanceof ModelFetchError &&
  (err.code === 'MODEL_ERR_NETWORK' ||
    (err.code === 'MODEL_ERR_HTTP_STATUS' && (err.status === 408 || err.status === 429 || err.status! >= 500)));

/**
 * Downloads every file of the variant into destDir, skipping the ones already in place (verified by sha256),
 * resuming interrupted downloads, and refusing any file whose size or sha256 differs from the manifest.
 */
export async function fetchModel(options: FetchOptions = {}): Promise<FetchResult> {
  const manifest = await manifestOf(options);
  const variant = options.variant ?? manifest.defaultVariant;
  const files = filesOf(manifest, variant);
  const destDir = resolve(options.destDir ?? defaultModelDir);
  const endpoint = hubEndpoint(options.endpoint);
  const repo = options.repo ?? manifest.repo;
  const revision = encodeURIComponent(options.revision ?? manifest.revision);
  const token = options.token ?? process.env.HF_TOKEN;
  const headers: Record<string, string> = {
    // Byte ranges and sizes refer to the stored bytes, so ask for them without transfer compression.
    'accept-encoding': 'identity',
    'user-agent': 'sentiment-inference-server/model-fetch',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const onEvent = options.onProgress ?? (() => {});
  const retries = options.retries ?? 2;
  const downloaded: string[] = [];
  const present: string[] = [];
  for (const entry of files) {
    const dest = join(destDir, ...entry.path.split('/'));
    if (!options.refetch && (await isInPlace(entry, dest))) {
      present.push(entry.path);
      onEvent({ kind: 'present', file: entry.path, verified: entry.sha256 !== null });
      continue;
    }
    const url = `${endpoint}/${repo}/resolve/${revision}/${entry.path.split('/').map(encodeURIComponent).join('/')}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await download({ entry, url, dest, headers, signal: options.signal, onEvent });
        break;
      } catch (err) {
        if (attempt > retries || !retryable(err)) throw err;
        onEvent({ kind: 'retry', file: entry.path, attempt, error: err as Error });
        await sleep(attempt * (options.retryDelayMs ?? 1000), undefined, { signal: options.signal });
      }
    }
    downloaded.push(entry.path);
  }
  return { destDir, variant, downloaded, present };
}

/** Cheap: existence and, when pinned, size. Hashing 67 MB on every service start would cost ~0.3 s for nothing. */
async function looksComplete(files: readonly ManifestFile[], destDir: string): Promise<boolean> {
  for (const { path, size } of files) {
    const found = await stat(join(destDir, ...path.split('/'))).catch(() => undefined);
    if (!found?.isFile() || (size !== null && found.size !== size)) return false;
  }
  return true;
}

/**
 * For the service at start (MODEL_DIR unset): returns at once when destDir holds every file of the variant
 * with its pinned size, else fetches what is missing. Full hashes are checked by fetchModel only.
 */
export async function ensureModel(destDir: string, options: Omit<FetchOptions, 'destDir'> = {}): Promise<FetchResult> {
  const manifest = await manifestOf(options);
  const variant = options.variant ?? manifest.defaultVariant;
  const files = filesOf(manifest, variant);
  if (await looksComplete(files, destDir)) {
    return { destDir: resolve(destDir), variant, downloaded: [], present: files.map((f) => f.path) };
  }
  return fetchModel({ ...options, manifest, destDir });
}
