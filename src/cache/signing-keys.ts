// Where the cache's signing keys come from (value-signing.ts): CACHE_SIGNING_KEYS (a list, read with the rest of the
// configuration) or CACHE_SIGNING_KEYS_FILE (one key a line, e.g. a mounted Kubernetes Secret), re-read when it
// changes, as API_KEYS and API_KEYS_FILE are (src/api-key-source.ts). The first key signs, every key verifies.
// The keys never reach a message or a log line: errors name a key by its position, logs give their count.
import type { Logger } from 'pino';
import { keysFromList, readKeyFile, watchKeyFile } from '../api-key-source.js';
import { ValueSigner } from './value-signing.js';

/**
 * At least 32 characters: anyone who can read Redis holds values with their tags, and can try guessed keys
 * against them offline, as fast as HMAC runs, so a key must be beyond guessing, and 32 random characters are
 * (≥ 128 bits even as hex; `openssl rand -base64 32` gives 44 characters, 256 bits). RFC 2104 also advises a
 * key no shorter than the hash's output (32 bytes). At most 64: SHA-256's block; HMAC hashes a longer key down
 * to 32 bytes first, which adds no strength, and value-signing.ts's fast path needs the key to fit the block.
 */
export const MIN_SIGNING_KEY_LENGTH = 32;
export const MAX_SIGNING_KEY_LENGTH = 64;
// Base64, base64url and hex keys fit; no space, comma (the list's separator) or `#` (a comment in the file).
const KEY_CHARS = /^[A-Za-z0-9\-._~+/=]+$/;

/** CACHE_SIGNING_KEYS' items, or CACHE_SIGNING_KEYS_FILE's lines, in order (the first signs): keysFromList. */
export function signingKeysFromList(items: readonly string[], source: string, what = 'item'): string[] {
  return keysFromList(items, source, what, (key) => {
    if (!KEY_CHARS.test(key)) return 'is not a signing key (letters, digits and -._~+/=)';
    if (key.length < MIN_SIGNING_KEY_LENGTH || key.length > MAX_SIGNING_KEY_LENGTH) {
      return `has ${key.length} characters; a signing key has ${MIN_SIGNING_KEY_LENGTH} to ${MAX_SIGNING_KEY_LENGTH} (e.g. openssl rand -base64 32)`;
    }
    return undefined;
  });
}

/** Reads CACHE_SIGNING_KEYS_FILE: one key a line; blank lines and lines starting with `#` are skipped. */
export function readSigningKeysFile(path: string): string[] {
  return readKeyFile(path, 'CACHE_SIGNING_KEYS_FILE', signingKeysFromList);
}

/**
 * The settings the signing reads, as the configuration holds them (CACHE_SIGNING_KEYS already split into keys).
 * Its own type, not a Pick of Config: config.ts imports this module to check CACHE_SIGNING_KEYS.
 */
export interface CacheSigningSettings {
  readonly cacheSigningKeys: readonly string[] | undefined;
  readonly cacheSigningKeysFile: string | undefined;
  readonly cacheSigningKeysFileCheckMs: number;
}

export interface CacheSigning {
  /** Undefined when no keys are configured: values are written and read unsigned, as before. */
  readonly signer: ValueSigner | undefined;
  /** Stops re-reading CACHE_SIGNING_KEYS_FILE. */
  close(): void;
}

/**
 * The signer for the configured keys (CACHE_SIGNING_KEYS, or CACHE_SIGNING_KEYS_FILE read now and then re-read on
 * change), or none. A file that cannot be read or holds no valid key stops the start (INF_ERR_CONFIG); a changed
 * file that cannot be used keeps the keys in use. With a shared tier and no keys, one warning: anything that
 * can write to Redis can change the answers (within what the codec's check, inference/prediction-codec.ts, lets through).
 */
export function createCacheSigning(config: CacheSigningSettings, logger: Logger, shared: boolean): CacheSigning {
  const { cacheSigningKeys, cacheSigningKeysFile: file, cacheSigningKeysFileCheckMs } = config;
  if (cacheSigningKeys === undefined && file === undefined) {
    if (shared) {
      logger.warn(
        'cache values in Redis are not signed: whatever can write to Redis can change the answers of every pod; set CACHE_SIGNING_KEYS or CACHE_SIGNING_KEYS_FILE',
      );
    }
    return { signer: undefined, close() {} };
  }
  const signer = new ValueSigner(cacheSigningKeys ?? readSigningKeysFile(file!));
  logger.info({ keys: signer.keyCount, from: file ?? 'CACHE_SIGNING_KEYS', redis: shared }, 'cache signing keys');
  if (file === undefined || cacheSigningKeysFileCheckMs === 0) return { signer, close() {} };
  const stop = watchKeyFile(
    file,
    cacheSigningKeysFileCheckMs,
    (keys) => {
      signer.replaceKeys(keys);
      logger.info({ keys: keys.length, from: file }, 'cache signing keys reloaded');
    },
    (err) =>
      logger.warn(
        { from: file, problem: err.message, keys: signer.keyCount },
        'cache signing keys file changed but unusable; keeping the keys in use',
      ),
    readSigningKeysFile,
  );
  return { signer, close: stop };
}
