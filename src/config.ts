import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig } from './validation/validators.js';
import { Config as configSchema } from './generated/schemas.js';
import { readCgroupCpuLimit, workersForCpuLimit } from './cpu-limit.js';
import { formatAjvErrors } from './validation/format-ajv-errors.js';

/** Root of the package (holds package.json and model/); this module runs as dist/src/config.js. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `npm run model:fetch` puts the real model, and where the service looks when MODEL_DIR is unset. */
export const defaultModelDir = join(packageRoot, 'model', 'distilbert-base-uncased-finetuned-sst-2-english');

/** Every field is documented, with its default, in schemas/config.json and the README's configuration table. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly basePath: string;
  readonly modelDir: string;
  /** True when MODEL_DIR was not given: the service may fetch the model into defaultModelDir. */
  readonly modelDirIsDefault: boolean;
  /** Unset: looked for in the hub's and optimum's layouts (src/model/model-info.ts). */
  readonly modelFile: string | undefined;
  readonly workers: number;
  readonly cpuLimit: number | undefined;
  readonly intraOpThreads: number;
  readonly logLevel: string;
  readonly maxBodyBytes: number;
  readonly maxTexts: number;
  readonly maxTokens: number;
  readonly maxBatchSize: number;
  readonly maxBatchTokens: number;
  readonly maxQueueTokens: number;
  readonly tokenizerThreads: number;
  readonly requestTimeoutMs: number;
  readonly shutdownGraceMs: number;
  /** Resolved from REDIS_URL, else REDIS_HOST/REDIS_PORT; undefined means in-process cache only. */
  readonly redisUrl: string | undefined;
  readonly cachePrefix: string;
  readonly cacheTtlSeconds: number;
  readonly cacheLookupTimeoutMs: number;
  readonly cacheLruEntries: number;
  readonly cacheLruBytes: number;
  readonly metricsEnabled: boolean;
  readonly metricsPath: string;
  readonly timingHeaders: boolean;
}

export class ConfigError extends Error {}

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
  if (!validateConfig(raw)) {
    throw new ConfigError(`invalid configuration: ${formatAjvErrors(validateConfig.errors, toEnvName)}`);
  }
  const cpuLimit = (raw.cpuLimit as number | undefined) ?? readCgroupCpuLimit(cgroupRoot);
  const modelDir = raw.modelDir as string | undefined;
  return Object.freeze({
    ...(raw as Omit<Config, 'modelDir' | 'modelDirIsDefault' | 'workers' | 'cpuLimit' | 'redisUrl'>),
    modelDir: modelDir === undefined ? defaultModelDir : resolve(modelDir),
    modelDirIsDefault: modelDir === undefined,
    workers: (raw.workers as number | undefined) ?? workersForCpuLimit(cpuLimit),
    cpuLimit,
    redisUrl: resolveRedisUrl(raw.redisUrl as string | undefined, raw.redisHost as string | undefined, raw.redisPort as string | undefined),
  });
}

/** A Kubernetes service link looks like REDIS_PORT=tcp://10.0.0.7:6379; a plain port is "6379". */
function resolveRedisUrl(url: string | undefined, host: string | undefined, port: string | undefined): string | undefined {
  if (url !== undefined) return url;
  if (port === undefined && host === undefined) return undefined;
  const link = port !== undefined ? /^tcp:\/\/([^:]+):(\d+)$/.exec(port) : null;
  if (link) return `redis://${host ?? link[1]}:${link[2]}`;
  if (port !== undefined && !/^\d+$/.test(port)) throw new ConfigError(`invalid configuration: REDIS_PORT must be a port or tcp://host:port, got ${JSON.stringify(port)}`);
  return `redis://${host ?? 'localhost'}:${port ?? '6379'}`;
}
