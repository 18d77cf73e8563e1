import { hash } from 'node:crypto';

/**
 * Authenticated cache values (CACHE_SIGNING_KEYS): with keys set, what the service writes to Redis under a key is
 *
 *     v1.<key id: 8 chars>.<tag: 22 chars>.<prediction>
 *
 * where the tag is HMAC-SHA-256(signing key, `v1:` + the Redis key's length + `:` + the Redis key + the prediction),
 * in base64url, cut to its first 22 characters. The Redis key is in the MAC (length-prefixed, so no two
 * key/value pairs give the same input), so a genuine value copied under another key (another text, another
 * model, another prefix) does not verify there. The key id names the key that signed (its own HMAC of a fixed
 * string, so it tells nothing of the key): a reader tries only the configured key(s) with that id, one HMAC per
 * value, and a value of an unknown key costs none.
 *
 * Truncation: 22 base64url characters are the digest's first 132 bits (21 whole characters would be 126). A
 * forger without the key, who can write Redis and see whether its value is served, can only guess a tag: one
 * chance in 2^132 per try, and every try costs a Redis write and a request (online only: a tag cannot be checked
 * without the key). That is above the 128 bits of RFC 4868's HMAC-SHA-256-128, the usual truncation of this MAC;
 * the whole 256 bits would add 21 bytes to every value and no protection that matters here.
 *
 * The HMAC is computed as RFC 2104 defines it, H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), with two calls of the
 * one-shot crypto.hash (Node 22 has no one-shot crypto.hmac): createHmac + update + digest cost 1.40 µs a value
 * in `npm run bench:signing` (most of it creating the Hmac and setting its key, every time), where sealing a
 * value this way costs 0.80 µs and opening one 0.96 µs, header and comparison included
 * (test/internals/value-signing.test.ts checks the HMAC against createHmac and RFC 4231's vectors). It needs the padded key's bytes to be ASCII, so that K ⊕ ipad, a string of
 * chars below 0x80, is hashed as the same bytes in UTF-8: keys are 32–64 ASCII characters (signing-keys.ts); a key
 * longer than SHA-256's 64-byte block would be hashed to 32 bytes first, and that adds no strength anyway.
 */
const VERSION = 'v1.';
const ID_LENGTH = 8;
const TAG_LENGTH = 22;
/** `v1.` + id + `.` + tag + `.`: where the prediction starts. */
export const SIGNED_HEADER_LENGTH = VERSION.length + ID_LENGTH + 1 + TAG_LENGTH + 1;
const TAG_AT = VERSION.length + ID_LENGTH + 1;
const DOT = 0x2e;
const BLOCK = 64;

/** HMAC-SHA-256 with one key, by two one-shot hashes (see above); base64url, whole. */
export class HmacSha256 {
  /** K ⊕ ipad, as a string of ASCII chars. */
  private readonly inner: string;
  /** K ⊕ opad, then the 32 bytes of the inner digest, written in place for each message. */
  private readonly outer = Buffer.alloc(BLOCK + 32);

  constructor(key: string) {
    if (key.length > BLOCK) throw new Error('an HMAC key here is at most 64 ASCII characters');
    const inner = Buffer.alloc(BLOCK);
    for (let i = 0; i < BLOCK; i++) {
      const byte = i < key.length ? key.charCodeAt(i) : 0;
      if (byte > 0x7f) throw new Error('an HMAC key here is at most 64 ASCII characters');
      inner[i] = byte ^ 0x36;
      this.outer[i] = byte ^ 0x5c;
    }
    this.inner = inner.toString('latin1');
  }

  digest(message: string): string {
    // The message is hashed as UTF-8, as createHmac's update(string) does; the inner digest comes back as one
    // char per byte ('binary' is latin1) and goes into the outer block as those bytes.
    this.outer.write(hash('sha256', this.inner + message, 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.outer, 'base64url');
  }
}

interface SigningKey {
  /** `v1.<id>.`: what a value this key signed starts with. */
  readonly head: string;
  readonly mac: HmacSha256;
}

/** The key's id: its HMAC of a fixed string (not of the form `v1:…`, so never a value's tag). */
function keyOf(secret: string): SigningKey {
  const mac = new HmacSha256(secret);
  return { head: `${VERSION}${mac.digest('cache signing key id').slice(0, ID_LENGTH)}.`, mac };
}

const macInput = (redisKey: string, prediction: string): string => `v1:${redisKey.length}:${redisKey}${prediction}`;

/** Signs values with the first key and verifies them with any; `replaceKeys` swaps the list (a rotated file). */
export class ValueSigner {
  private keys: readonly SigningKey[];

  constructor(secrets: readonly string[]) {
    this.keys = ValueSigner.keysOf(secrets);
  }

  get keyCount(): number {
    return this.keys.length;
  }

  replaceKeys(secrets: readonly string[]): void {
    this.keys = ValueSigner.keysOf(secrets);
  }

  /** What goes to Redis under `redisKey` for this prediction. */
  seal(redisKey: string, prediction: string): string {
    const key = this.keys[0];
    return `${key.head}${key.mac.digest(macInput(redisKey, prediction)).slice(0, TAG_LENGTH)}.${prediction}`;
  }

  /**
   * The prediction of a value read under `redisKey`, or undefined when it does not verify: no header, a key id
   * no configured key has, or a tag that is not this key's and value's (altered, moved from another key).
   */
  open(redisKey: string, value: string): string | undefined {
    if (value.length < SIGNED_HEADER_LENGTH || value.charCodeAt(SIGNED_HEADER_LENGTH - 1) !== DOT) return undefined;
    let prediction: string | undefined;
    for (const key of this.keys) {
      if (!value.startsWith(key.head)) continue;
      prediction ??= value.slice(SIGNED_HEADER_LENGTH);
      if (tagEquals(key.mac.digest(macInput(redisKey, prediction)), value)) return prediction;
    }
    return undefined;
  }

  private static keysOf(secrets: readonly string[]): readonly SigningKey[] {
    if (secrets.length === 0) throw new Error('no signing key');
    return secrets.map(keyOf);
  }
}

/** Whether the first TAG_LENGTH chars of `digest` are the value's tag, in time that does not depend on where they differ. */
function tagEquals(digest: string, value: string): boolean {
  let diff = 0;
  for (let i = 0; i < TAG_LENGTH; i++) diff |= digest.charCodeAt(i) ^ value.charCodeAt(TAG_AT + i);
  return diff === 0;
}
