// Every failure of `npm run model:fetch` is defined here once: a code and a message that names the file.

export type ModelFetchErrorCode =
  | 'MODEL_ERR_NETWORK'
  | 'MODEL_ERR_HTTP_STATUS'
  | 'MODEL_ERR_CHECKSUM'
  | 'MODEL_ERR_SIZE'
  | 'MODEL_ERR_CONTENT'
  | 'MODEL_ERR_DISK'
  | 'MODEL_ERR_MANIFEST'
  | 'MODEL_ERR_LOCK'
  | 'MODEL_ERR_LIST'
  | 'MODEL_ERR_LIST_INCOMPLETE'
  | 'MODEL_ERR_USAGE';

export class ModelFetchError extends Error {
  override name = 'ModelFetchError';
  /** The HTTP status, for MODEL_ERR_HTTP_STATUS (decides whether a retry can help). */
  readonly status: number | undefined;
  constructor(
    readonly code: ModelFetchErrorCode,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.status = options.status;
  }
}

/** undici reports "fetch failed" / "terminated" and puts the useful part (ECONNREFUSED, other side closed) in cause. */
function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}

function statusHint(status: number): string {
  if (status === 401 || status === 403) return ' (private or gated repo? set HF_TOKEN)';
  if (status === 404) return ' (wrong repo, revision or path in model/manifest.json?)';
  return '';
}

export const FetchErrors = {
  Network: (file: string, url: string, cause: unknown) =>
    new ModelFetchError('MODEL_ERR_NETWORK', `${file}: network failure fetching ${url}: ${describe(cause)}`, { cause }),
  HttpStatus: (file: string, url: string, status: number) =>
    new ModelFetchError('MODEL_ERR_HTTP_STATUS', `${file}: HTTP ${status} from ${url}${statusHint(status)}`, { status }),
  Checksum: (file: string, expected: string, actual: string) =>
    new ModelFetchError(
      'MODEL_ERR_CHECKSUM',
      `${file}: sha256 mismatch: expected ${expected}, got ${actual}; the partial download was deleted`,
    ),
  Size: (file: string, expected: number, actual: number) =>
    new ModelFetchError('MODEL_ERR_SIZE', `${file}: size mismatch: expected ${expected} bytes, got ${actual}`),
  NotJson: (file: string) =>
    new ModelFetchError('MODEL_ERR_CONTENT', `${file}: not pinned by hash and not valid JSON either; the download was deleted`),
  Disk: (path: string, cause: unknown) => new ModelFetchError('MODEL_ERR_DISK', `cannot write ${path}: ${describe(cause)}`, { cause }),
  Manifest: (source: string, problem: string) => new ModelFetchError('MODEL_ERR_MANIFEST', `invalid model manifest ${source}: ${problem}`),
  Lock: (file: string, problem: string) => new ModelFetchError('MODEL_ERR_LOCK', `model lock ${file} ${problem}`),
  Usage: (problem: string) => new ModelFetchError('MODEL_ERR_USAGE', problem),
  List: (source: string, problem: string) => new ModelFetchError('MODEL_ERR_LIST', `invalid model list ${source}: ${problem}`),
  /** One model of a list failed: its own code and status, its name and pin in front of the message. */
  InModel: (name: string, pin: string, err: ModelFetchError) =>
    new ModelFetchError(err.code, `model "${name}" (${pin}): ${err.message}`, { cause: err, status: err.status }),
  /** The models of a list that failed, each error (from InModel) in `cause.errors`; the others were fetched. */
  ListIncomplete: (failed: readonly ModelFetchError[], total: number) =>
    new ModelFetchError(
      'MODEL_ERR_LIST_INCOMPLETE',
      `${failed.length} of ${total} models not fetched:\n${failed.map((e) => `  ${e.message}`).join('\n')}`,
      { cause: new AggregateError(failed) },
    ),
};
