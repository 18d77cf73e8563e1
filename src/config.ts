import { resolve } from 'node:path';
import { defaultModelDir } from '../model/paths.js';
import { type ApiKeyRouteGroup, apiKeysFromList, parseApiKeyRoutes, redactedKeys } from './api-key-source.js';
import { signingKeysFromList } from './cache/signing-keys.js';
import { readCgroupCpuLimit, workersForCpuLimit } from './cpu-limit.js';
import { Errors } from './errors.js';
import type { ConfigSettings } from './generated/config-settings.js';
import { Config as configSchema } from './generated/schemas.js';
import { formatAjvErrors } from './validation/format-ajv-errors.js';
import { validateConfig } from './validation/validators.js';

/**
 * The settings of schemas/config.json (their type is generated from it at build), with the derived ones
 * resolved: the model directory, the worker count and the Redis URL.
 */
export interface Config
  extends Omit<
    ConfigSettings,
    | 'modelDir'
    | 'modelFile'
    | 'workers'
    | 'cpuLimit'
    | 'redisUrl'
    | 'redisHost'
    | 'redisPort'
    | 'redisClusterNodes'
    | 'apiKeys'
    | 'apiKeysFile'
    | 'apiKeyRoutes'
    | 'cacheSigningKeys'
    | 'cacheSigningKeysFile'
    | OtelRawSettings
  > {
  readonly modelDir: string;
  /** True when MODEL_DIR was not given: the service may fetch the model into defaultModelDir. */
  readonly modelDirIsDefault: boolean;
  /** Unset: looked for in the hub's and optimum's layouts (src/model-loading/model-info.ts). */
  readonly modelFile: string | undefined;
  readonly workers: number;
  readonly cpuLimit: number | undefined;
  /** Resolved from REDIS_URL, else REDIS_HOST/REDIS_PORT; undefined means in-process cache only. */
  readonly redisUrl: string | undefined;
  /** Parsed from REDIS_CLUSTER_NODES; a seed URL's user and password land in redisUsername/redisPassword. */
  readonly redisClusterNodes: RedisClusterSeeds | undefined;
  /** Parsed from API_KEYS; serializes as a count, so a logged config shows no key. */
  readonly apiKeys: readonly string[] | undefined;
  readonly apiKeysFile: string | undefined;
  /** Parsed from API_KEY_ROUTES, `all` spelt out. */
  readonly apiKeyRoutes: readonly ApiKeyRouteGroup[];
  /** Parsed from CACHE_SIGNING_KEYS (the first signs); serializes as a count, so a logged config shows no key. */
  readonly cacheSigningKeys: readonly string[] | undefined;
  readonly cacheSigningKeysFile: string | undefined;
  /** Where spans are exported, resolved from the OTEL_* settings; undefined means tracing is off. */
  readonly otelTracesEndpoint: string | undefined;
}

export interface RedisClusterSeeds {
  readonly seeds: readonly { readonly host: string; readonly port: number }[];
  /** A `rediss://` seed: every node is spoken to over TLS. */
  readonly tls: boolean;
}

/**
 * What the protocol edges (HTTP and gRPC) read of the configuration, and all they are handed (settingsFor): no
 * secret is among them (the Redis URL and credentials reach only the cache, API keys only their guard, signing
 * keys only the signer).
 */
export const EDGE_SETTINGS = [
  'basePath',
  'teiPrefix',
  'metricsPath',
  'apiKeyRoutes',
  'maxBodyBytes',
  'maxTexts',
  'maxTokens',
  'maxBatchSize',
  'maxBatchTokens',
  'maxQueueTokens',
  'maxQueueDelayMs',
  'requestTimeoutMs',
  'timingHeaders',
  'tokenizerThreads',
  'workers',
] as const satisfies readonly (keyof Config)[];
export type EdgeSettings = Pick<Config, (typeof EDGE_SETTINGS)[number]>;

/** A copy of just these settings, for a part that must not hold the rest. */
export function settingsFor<K extends keyof Config>(config: Config, keys: readonly K[]): Pick<Config, K> {
  const out = {} as Pick<Config, K>;
  for (const key of keys) out[key] = config[key];
  return Object.freeze(out);
}

/** The OTEL_* settings that decide whether and where spans go: they live on only in otelTracesEndpoint. */
type OtelRawSettings = 'otelSdkDisabled' | 'otelTracesExporter' | 'otelExporterOtlpEndpoint' | 'otelExporterOtlpTracesEndpoint';

const toEnvName = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/**
 * Reads the configuration once: env -> schema validation (coercion + defaults) -> derived fields -> frozen.
 * `cgroupRoot` is for tests that hand the code a fake cgroup hierarchy.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cgroupRoot?: string): Config {
  const raw: Record<string, unknown> = {};
  for (const field of Object.keys(configSchema.properties)) {
    const value = env[toEnvName(field)];
    if (value !== undefined && value !== '') raw[field] = value;
  }
  if (!validateConfig(raw)) throw Errors.Config(formatAjvErrors(validateConfig.errors, toEnvName));
  // The schema forbids other keys, so after validation raw holds exactly the settings; the derived ones are
  // taken out here, and the rest is typed by the generated ConfigSettings.
  const {
    modelDir,
    modelFile,
    workers,
    intraOpThreads,
    cpuLimit: cpuLimitSetting,
    redisUrl,
    redisHost,
    redisPort,
    redisClusterNodes,
    redisUsername,
    redisPassword,
    apiKeys,
    apiKeysFile,
    apiKeyRoutes,
    cacheSigningKeys,
    cacheSigningKeysFile,
    otelSdkDisabled,
    otelTracesExporter,
    otelExporterOtlpEndpoint,
    otelExporterOtlpTracesEndpoint,
    ...settings
  } = raw as unknown as ConfigSettings;
  const cpuLimit = cpuLimitSetting ?? readCgroupCpuLimit(cgroupRoot);
  const cluster = redisClusterNodes === undefined ? undefined : parseClusterNodes(redisClusterNodes);
  if (cluster && (redisUrl ?? redisHost ?? redisPort) !== undefined) {
    throw Errors.Config('REDIS_CLUSTER_NODES and REDIS_URL/REDIS_HOST/REDIS_PORT are exclusive: the cache uses one of them');
  }
  if (settings.modelRepository !== undefined && modelDir !== undefined) {
    throw Errors.Config('MODEL_REPOSITORY and MODEL_DIR are exclusive: serve one model directory, or a repository of them');
  }
  if (apiKeys !== undefined && apiKeysFile !== undefined) {
    throw Errors.Config('API_KEYS and API_KEYS_FILE are exclusive: the keys come from one of them');
  }
  if (cacheSigningKeys !== undefined && cacheSigningKeysFile !== undefined) {
    throw Errors.Config('CACHE_SIGNING_KEYS and CACHE_SIGNING_KEYS_FILE are exclusive: the keys come from one of them');
  }
  return Object.freeze({
    ...settings,
    apiKeys: apiKeys === undefined ? undefined : redactedKeys(apiKeysFromList(apiKeys.split(','), 'API_KEYS')),
    apiKeysFile,
    apiKeyRoutes: parseApiKeyRoutes(apiKeyRoutes),
    cacheSigningKeys:
      cacheSigningKeys === undefined
        ? undefined
        : redactedKeys(signingKeysFromList(cacheSigningKeys.split(','), 'CACHE_SIGNING_KEYS'), 'cache signing key'),
    cacheSigningKeysFile,
    modelRepository: settings.modelRepository === undefined ? undefined : resolve(settings.modelRepository),
    defaultModel: settings.defaultModel,
    modelMemoryBudgetMb: settings.modelMemoryBudgetMb,
    modelDir: modelDir === undefined ? defaultModelDir : resolve(modelDir),
    modelDirIsDefault: modelDir === undefined,
    modelFile,
    workers: workers ?? workersForCpuLimit(cpuLimit),
    // Unset: the thread layout follows the queue (src/inference/thread-layout.ts).
    intraOpThreads,
    cpuLimit,
    redisUrl: resolveRedisUrl(redisUrl, redisHost, redisPort),
    redisClusterNodes: cluster && { seeds: cluster.seeds, tls: cluster.tls },
    // As for REDIS_URL, credentials in a seed URL win over REDIS_USERNAME/REDIS_PASSWORD.
    redisUsername: cluster?.username ?? redisUsername,
    redisPassword: cluster?.password ?? redisPassword,
    otelTracesEndpoint: resolveTracesEndpoint({
      otelSdkDisabled,
      otelTracesExporter,
      otelExporterOtlpEndpoint,
      otelExporterOtlpTracesEndpoint,
    }),
  });
}

/**
 * Tracing is off unless asked for: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint with no exporter named.
 * The traces URL is used as given; the base URL gets the spec's `/v1/traces`.
 */
function resolveTracesEndpoint(s: Pick<ConfigSettings, OtelRawSettings>): string | undefined {
  const { otelSdkDisabled, otelTracesExporter, otelExporterOtlpEndpoint: base, otelExporterOtlpTracesEndpoint: traces } = s;
  if (otelSdkDisabled || otelTracesExporter === 'none') return undefined;
  if (otelTracesExporter === undefined && base === undefined && traces === undefined) return undefined;
  const url = traces ?? `${(base ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  const parsed = URL.parse(url);
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw Errors.Config(`the OTLP traces endpoint must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url;
}

/** `host:port` or `redis[s]://[user:password@]host:port` seeds; TLS, user and password are the cluster's, not a node's. */
function parseClusterNodes(list: string): RedisClusterSeeds & { username?: string; password?: string } {
  const parsed = list.split(',').map((seed) => {
    const url = URL.parse(/^[a-z]+:\/\//.test(seed) ? seed : `redis://${seed}`);
    const port = Number(url?.port);
    if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '' || !(port > 0 && port < 65536)) {
      throw Errors.Config(`REDIS_CLUSTER_NODES: ${JSON.stringify(seed)} is not host:port or redis[s]://host:port`);
    }
    const decoded = (s: string) => (s === '' ? undefined : decodeURIComponent(s));
    return {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port,
      tls: url.protocol === 'rediss:',
      username: decoded(url.username),
      password: decoded(url.password),
    };
  });
  if (new Set(parsed.map((s) => s.tls)).size > 1) throw Errors.Config('REDIS_CLUSTER_NODES mixes redis:// and rediss:// seeds');
  return {
    seeds: parsed.map(({ host, port }) => ({ host, port })),
    tls: parsed[0].tls,
    username: parsed.find((s) => s.username)?.username,
    password: parsed.find((s) => s.password)?.password,
  };
}

/** A Kubernetes service link looks like REDIS_PORT=tcp://10.0.0.7:6379; a plain port is "6379". */
function resolveRedisUrl(url: string | undefined, host: string | undefined, port: string | undefined): string | undefined {
  if (url !== undefined) return url;
  if (port === undefined && host === undefined) return undefined;
  const link = port !== undefined ? /^tcp:\/\/([^:]+):(\d+)$/.exec(port) : null;
  if (link) return `redis://${host ?? link[1]}:${link[2]}`;
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw Errors.Config(`REDIS_PORT must be a port or tcp://host:port, got ${JSON.stringify(port)}`);
  }
  return `redis://${host ?? 'localhost'}:${port ?? '6379'}`;
}
