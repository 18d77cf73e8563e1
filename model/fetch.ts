// `npm run model:fetch`: downloads the pinned model from the Hugging Face hub. Also a library: fetchModel, ensureModel.
import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { download, isInPlace } from './download.js';
import { FetchErrors, ModelFetchError } from './errors.js';
import { filesOf, loadManifest, parseManifest, type Manifest, type ManifestFile } from './manifest.js';
import { defaultManifestPath, defaultModelDir } from './paths.js';
import { createProgressReporter, type FetchEvent } from './progress.js';

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

const USAGE = `usage: npm run model:fetch -- [--variant quantized|fp32] [--revision REV] [--dest DIR] [--manifest FILE]
       npm run model:fetch -- --repo OWNER/NAME [--revision COMMIT] [--file onnx/model_quantized.onnx] [--dest DIR]
  The first form fetches the pinned model (model/manifest.json). The second fetches any repository with an ONNX
  export into model/OWNER--NAME/ (or DIR) and writes model.lock.json there on the first fetch; later fetches
  and the service's start refuse files that differ from it.
  env HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated repos)`;

const OPTIONS = {
  variant: { type: 'string' },
  dest: { type: 'string' },
  manifest: { type: 'string' },
  help: { type: 'boolean' },
  repo: { type: 'string' },
  revision: { type: 'string' },
  file: { type: 'string' },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS }).values;
  } catch (err) {
    throw FetchErrors.Usage(`${(err as Error).message}\n${USAGE}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const values = parseFlags(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const onProgress = createProgressReporter(process.stderr);
  const manifest = values.manifest === undefined ? await loadManifest(defaultManifestPath) : await loadManifest(resolve(values.manifest));
  if (values.repo !== undefined && values.repo !== manifest.repo) {
    if (values.variant !== undefined || values.manifest !== undefined)
      throw FetchErrors.Usage(`--repo takes no --variant or --manifest\n${USAGE}`);
    // Imported here: repo-fetch.ts imports this module.
    const { fetchRepo } = await import('./repo-fetch.js');
    const result = await fetchRepo({ repo: values.repo, revision: values.revision, file: values.file, destDir: values.dest, onProgress });
    const lockNote = result.locked ? 'model.lock.json written (first fetch)' : 'verified against model.lock.json';
    process.stderr.write(`${result.lock.repo}@${result.lock.revision} ready in ${result.destDir}: ${lockNote}\n`);
    return;
  }
  if (values.file !== undefined) throw FetchErrors.Usage(`--file goes with --repo; the pinned model's files are its variants\n${USAGE}`);
  const result = await fetchModel({ variant: values.variant, revision: values.revision, destDir: values.dest, manifest, onProgress });
  process.stderr.write(
    `model (${result.variant}) ready in ${result.destDir}: ${result.downloaded.length} downloaded, ${result.present.length} already present\n`,
  );
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    // Our errors carry a complete message; anything else is a bug, so keep its stack.
    const text = err instanceof ModelFetchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    // On a TTY a progress bar may still occupy the current line.
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}model:fetch failed: ${text}\n`);
    process.exitCode = 1;
  });
}
