// API keys on the HTTP edge, as text-embeddings-inference's `--api-key`: a protected route needs
// `Authorization: Bearer <key>` with one of the configured keys, else 401 with an RFC 6750 challenge.
//
// A route family applies it in its handler, synchronously (uWS' request object lives only that long) and before
// the body is read: `const refusal = guard.check(req.getHeader('authorization'))`, then renders the RequestError in
// its own body shape and closes the connection if a body was sent (it is left unread). The FastAPI-shaped GET
// routes get it from requireApiKey below; POST bulk-predict checks it in its admission (src/protocols/bulk-predict/http-route.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { type ApiKeyRouteGroup, guardedGroups, readApiKeysFile, watchKeyFile } from '../api-key-source.js';
import type { Config } from '../config.js';
import { Errors, type RequestError } from '../errors.js';
import { type ApiFamily, errorAnswer } from './error-answers.js';
import type { RouteHandler } from './pipeline.js';
import { hasBody } from './request-framing.js';
import { sendNow } from './respond.js';

export type ApiKeyRefusal = 'missing' | 'invalid';

export const API_KEY_REALM = 'sentiment-inference';

// Prebuilt: a refusal must stay cheap, also under a flood of wrong keys.
const missing = Errors.ApiKeyMissing(API_KEY_REALM);
const invalid = Errors.ApiKeyInvalid(API_KEY_REALM);
// The auth-scheme is case-insensitive (RFC 9110 11.1); one or more spaces before the token.
const BEARER = /^bearer(?: +(.*))?$/i;

/**
 * A key's SHA-256: keys are held and compared only as digests, so every comparison is of 32 bytes with 32
 * bytes, and neither the time of the comparison nor its failure tells how long a key is or how much of it matched.
 */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Whether `digest` equals one of `digests`; every digest is compared, so the time does not say which one matched. */
export function matchesAnyDigest(digest: Buffer, digests: readonly Buffer[]): boolean {
  let matched = false;
  for (const known of digests) matched = timingSafeEqual(digest, known) || matched;
  return matched;
}

/**
 * The token of `Bearer <token>`; undefined when the header carries none (absent, empty, another scheme, `Bearer`
 * alone). A malformed token (`Bearer a b`) is returned as it is: it matches no key, and is refused as invalid.
 */
export function bearerToken(authorization: string): string | undefined {
  const token = BEARER.exec(authorization.trim())?.[1];
  return token === undefined || token === '' ? undefined : token;
}

export class ApiKeyGuard {
  private digests: readonly Buffer[];
  private readonly groups: ReadonlySet<ApiKeyRouteGroup>;

  /** `groups`: API_KEY_ROUTES's, which may bring others (guardedGroups: `predict` brings `repository`). */
  constructor(
    keys: readonly string[],
    groups: Iterable<ApiKeyRouteGroup>,
    private readonly onRefused: (reason: ApiKeyRefusal) => void = () => {},
  ) {
    this.digests = keys.map(keyDigest);
    this.groups = guardedGroups(groups);
  }

  get keyCount(): number {
    return this.digests.length;
  }

  /** Whether the routes of `group` need a key (API_KEY_ROUTES). */
  protects(group: ApiKeyRouteGroup): boolean {
    return this.groups.has(group);
  }

  /** Takes new keys (a rotated API_KEYS_FILE); requests already checked keep their answer. */
  replaceKeys(keys: readonly string[]): void {
    this.digests = keys.map(keyDigest);
  }

  /** The refusal for this Authorization header value, counted by reason; undefined when it carries a valid key. */
  check(authorization: string): RequestError | undefined {
    const token = bearerToken(authorization);
    if (token === undefined) {
      this.onRefused('missing');
      return missing;
    }
    if (matchesAnyDigest(keyDigest(token), this.digests)) return undefined;
    this.onRefused('invalid');
    return invalid;
  }
}

/**
 * A route that answers 401 without a valid key, in its family's error body (FastAPI's {"detail": ...} unless
 * told), and runs `handler` with one.
 */
export function requireApiKey(guard: ApiKeyGuard, handler: RouteHandler, family: ApiFamily = 'bulk-predict'): RouteHandler {
  return (ctx, req) => {
    const refusal = guard.check(req.getHeader('authorization'));
    if (refusal === undefined) return handler(ctx, req);
    const { status, body, headers } = errorAnswer(refusal, family);
    sendNow(ctx, status, 'application/json', body, headers, hasBody(req));
  };
}

/** HF's POST /models/{name}, as a route pattern (`:name`) or an OpenAPI path (`{name}`). */
const MODEL_SEGMENT = /^\/models\/[^/]+$/;

/** The group of a route (undefined for a path the service does not serve). */
export function routeGroup(path: string, config: Pick<Config, 'basePath' | 'metricsPath' | 'teiPrefix'>): ApiKeyRouteGroup | undefined {
  const { basePath, metricsPath, teiPrefix } = config;
  if (path === metricsPath) return 'metrics';
  // TEI's routes at TEI_PREFIX (unless BASE_PATH takes the same paths, below).
  if (path === `${teiPrefix}/predict` || path === `${teiPrefix}/rerank`) return 'predict';
  if (path === `${teiPrefix}/health` && teiPrefix !== basePath) return 'health';
  if (path === `${teiPrefix}/info` && teiPrefix !== basePath) return 'info';
  // The other protocols' routes, at the root: the repository extension's /v2/repository, HF's POST / and
  // /models/{name}, and the Open Inference Protocol's /v2.
  if (path.startsWith('/v2/repository/')) return 'repository';
  if (path === '/' || path.endsWith('/infer') || MODEL_SEGMENT.test(path)) return 'predict';
  if (path.startsWith('/v2/health/')) return 'health';
  if (path === '/v2' || path === '/v2/' || path.startsWith('/v2/models/')) return 'info';
  if (!path.startsWith(`${basePath}/`)) return undefined;
  const rest = path.slice(basePath.length);
  if (rest === '/bulk-predict' || (rest.startsWith('/models/') && rest.endsWith('/bulk-predict'))) return 'predict';
  if (rest === '/health') return 'health';
  if (rest === '/info' || rest === '/models' || (rest.startsWith('/models/') && rest.endsWith('/info'))) return 'info';
  if (rest === '/openapi.json' || rest === '/docs' || rest.startsWith('/docs/')) return 'docs';
  return undefined;
}

export interface ApiKeys {
  /** Undefined when no keys are configured: every route is open, as before. */
  readonly guard: ApiKeyGuard | undefined;
  /** Stops re-reading API_KEYS_FILE. */
  close(): void;
}

/**
 * The guard for the configured keys (API_KEYS, or API_KEYS_FILE read now and then re-read on change), or none.
 * A file that cannot be read or holds no key stops the start (INF_ERR_CONFIG).
 */
export function createApiKeys(
  config: Pick<Config, 'apiKeys' | 'apiKeysFile' | 'apiKeysFileCheckMs' | 'apiKeyRoutes'>,
  logger: Logger,
  onRefused: (reason: ApiKeyRefusal) => void,
): ApiKeys {
  const { apiKeys, apiKeysFile, apiKeysFileCheckMs } = config;
  if (apiKeys === undefined && apiKeysFile === undefined) return { guard: undefined, close() {} };
  const guard = new ApiKeyGuard(apiKeys ?? readApiKeysFile(apiKeysFile!), config.apiKeyRoutes, onRefused);
  logger.info({ keys: guard.keyCount, from: apiKeysFile ?? 'API_KEYS', routes: config.apiKeyRoutes }, 'api keys');
  if (apiKeysFile === undefined || apiKeysFileCheckMs === 0) return { guard, close() {} };
  const stop = watchKeyFile(
    apiKeysFile,
    apiKeysFileCheckMs,
    (keys) => {
      guard.replaceKeys(keys);
      logger.info({ keys: keys.length, from: apiKeysFile }, 'api keys reloaded');
    },
    (err) =>
      logger.warn(
        { from: apiKeysFile, problem: err.message, keys: guard.keyCount },
        'api keys file changed but unusable; keeping the keys in use',
      ),
  );
  return { guard, close: stop };
}
