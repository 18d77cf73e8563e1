import { Errors, type HttpError } from '../errors.js';

/** TEI's ErrorType, and the status TEI gives each (router/src/http/server.rs, From<&ErrorType> for StatusCode). */
export type TeiErrorType = 'unhealthy' | 'backend' | 'overloaded' | 'tokenizer' | 'validation' | 'empty';

/** A TEI-shaped answer: `{"error": "...", "error_type": "..."}`, TEI's status, and the error's headers. */
export interface TeiErrorAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: readonly (readonly [string, string])[];
}

/**
 * Errors are defined once (src/errors.ts, with the status bulk-predict gives); the TEI routes render them in TEI's
 * body shape, and where TEI's status differs, with TEI's: overload is TEI's 429 (Retry-After kept), a worker
 * failure its 424 `backend`, the service still loading its 503 `unhealthy`. The service's own errors that TEI has
 * no type for keep their status (504 deadline, 415 media type), typed as the nearest TEI error.
 */
const RENDERING: Record<string, { readonly status?: number; readonly type: TeiErrorType }> = {
  INF_ERR_OVERLOADED: { status: 429, type: 'overloaded' },
  INF_ERR_NOT_READY: { type: 'unhealthy' },
  INF_ERR_TIMEOUT: { type: 'backend' },
  INF_ERR_INFERENCE: { status: 424, type: 'backend' },
  INF_ERR_INTERNAL: { type: 'backend' },
  INF_ERR_NOT_RERANKER: { type: 'backend' },
  INF_ERR_TEXTS_EMPTY: { type: 'empty' },
};

const cache = new Map<HttpError, TeiErrorAnswer>();

export function teiErrorFor(error: HttpError): TeiErrorAnswer {
  // The prebuilt errors (overload, timeout) come back again and again: render each once.
  const known = cache.get(error);
  if (known) return known;
  const rendering = RENDERING[error.code] ?? { type: 'validation' };
  const message = typeof error.detail === 'string' ? error.detail : error.detail.map((d) => d.msg).join('; ');
  const answer = {
    status: rendering.status ?? error.statusCode,
    body: JSON.stringify({ error: message, error_type: rendering.type }),
    headers: Object.entries(error.headers),
  };
  if (cache.size < 256) cache.set(error, answer);
  return answer;
}

/** GET /health's answer while not ready (loading or draining): TEI's, word for word. */
export const TEI_UNHEALTHY: TeiErrorAnswer = {
  status: Errors.NotReady().statusCode,
  body: JSON.stringify({ error: 'unhealthy', error_type: 'unhealthy' }),
  headers: [],
};
