// The cache's value signing (src/cache/value-signing.ts) and its keys (src/cache/signing-keys.ts), without Redis: the
// HMAC built from two one-shot hashes is HMAC-SHA-256 (RFC 4231's vectors, and createHmac on every key length and
// on UTF-8 messages), the wire format, what does not verify, rotation, and keys that never show in a message.
import t from 'tap';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { HmacSha256, SIGNED_HEADER_LENGTH, ValueSigner } from '../../dist/src/cache/value-signing.js';
import { readSigningKeysFile, signingKeysFromList } from '../../dist/src/cache/signing-keys.js';
import { loadConfig } from '../../dist/src/config.js';

const OLD = 'old-key-Zm9vYmFyYmF6cXV4cXV1eGNvcmdl';
const NEW = 'new-key-c2VjcmV0c2VjcmV0c2VjcmV0c2Vj';
const KEY = 'fastapi-cache-project::distilbert@0123abcd::' + 'ab'.repeat(32);
const OTHER_KEY = 'fastapi-cache-project::distilbert@0123abcd::' + 'cd'.repeat(32);
const PREDICTION = '[{"label":"POSITIVE","score":0.9998656511306763},{"label":"NEGATIVE","score":0.00013436275185085833}]';
const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');

t.test('HmacSha256 is HMAC-SHA-256: RFC 4231 test cases 1 and 2, and createHmac for every key length', async (t) => {
  // RFC 4231 4.2 and 4.3 (the other cases' keys are not ASCII, which signing keys always are).
  t.equal(new HmacSha256('\x0b'.repeat(20)).digest('Hi There'), b64url('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'));
  t.equal(
    new HmacSha256('Jefe').digest('what do ya want for nothing?'),
    b64url('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'),
  );
  const messages = ['', 'a', PREDICTION, `v1:${KEY.length}:${KEY}${PREDICTION}`, 'étoile ☆ 😀 \0 end', 'x'.repeat(1000)];
  for (let length = 0; length <= 64; length++) {
    const key = randomBytes(64).toString('base64').slice(0, length);
    const mac = new HmacSha256(key);
    for (const message of messages) {
      const expected = createHmac('sha256', key).update(message).digest('base64url');
      if (mac.digest(message) !== expected) t.fail(`key of ${length}, message ${JSON.stringify(message.slice(0, 20))}`);
    }
  }
  t.pass('65 key lengths x 6 messages agree with createHmac');
  t.throws(() => new HmacSha256('k'.repeat(65)), /at most 64 ASCII/, 'a key longer than the block is refused');
  t.throws(() => new HmacSha256('clé'), /at most 64 ASCII/, 'and a key that is not ASCII');
});

t.test('a signed value: v1.<key id>.<22-char tag>.<prediction>, the tag 132 bits of the HMAC over key and value', async (t) => {
  const signer = new ValueSigner([OLD]);
  const value = signer.seal(KEY, PREDICTION);
  t.match(value, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{22}\.\[/);
  t.equal(value.length, SIGNED_HEADER_LENGTH + PREDICTION.length);
  t.equal(value.slice(SIGNED_HEADER_LENGTH), PREDICTION, 'the prediction follows as it is');
  const tag = createHmac('sha256', OLD).update(`v1:${KEY.length}:${KEY}${PREDICTION}`).digest('base64url').slice(0, 22);
  t.equal(value.slice(12, 34), tag, 'the tag is HMAC-SHA-256 over `v1:<key length>:<key><prediction>`');
  t.equal(signer.seal(KEY, PREDICTION), value, 'deterministic: the same key and value sign the same');
  t.equal(signer.open(KEY, value), PREDICTION, 'opens to the prediction');
  t.not(signer.seal(OTHER_KEY, PREDICTION), value, 'another key, another tag');
});

t.test('what does not verify: altered, unsigned, moved, another key, cut', async (t) => {
  const signer = new ValueSigner([OLD]);
  const value = signer.seal(KEY, PREDICTION);
  const swapped = PREDICTION.replace('POSITIVE', 'TMP').replace('NEGATIVE', 'POSITIVE').replace('TMP', 'NEGATIVE');
  const flipTag = value.slice(0, 20) + (value[20] === 'A' ? 'B' : 'A') + value.slice(21);
  const cases: [string, string, string?][] = [
    ['labels swapped, signature kept', value.slice(0, SIGNED_HEADER_LENGTH) + swapped],
    ['a score changed, signature kept', value.replace('0.9998656511306763', '0.9998656511306764')],
    ['one tag character changed', flipTag],
    ['the signature dropped', PREDICTION],
    ['the header without its last dot', value.slice(0, SIGNED_HEADER_LENGTH - 1) + value.slice(SIGNED_HEADER_LENGTH)],
    ['another version', `v2${value.slice(2)}`],
    ['the header only', value.slice(0, SIGNED_HEADER_LENGTH)],
    ['cut short', value.slice(0, 20)],
    ['empty', ''],
    ['a genuine value read under another key', value, OTHER_KEY],
    ['signed with a key not configured', new ValueSigner([NEW]).seal(KEY, PREDICTION)],
    ['an unknown key under a known key id', new ValueSigner([NEW]).seal(KEY, PREDICTION).replace(/^v1\.[^.]+\./, value.slice(0, 12))],
    ['bytes appended', `${value} `],
  ];
  for (const [name, forged, key = KEY] of cases) t.equal(signer.open(key, forged), undefined, name);
  t.equal(signer.open(KEY, value), PREDICTION, 'the genuine value still opens');
  const empty = new ValueSigner([OLD]).seal(KEY, '');
  t.equal(signer.open(KEY, empty), '', 'an empty prediction signs and opens (the check of its content is prediction-check.ts)');
});

t.test('rotation: the first key signs, every key verifies; replaceKeys swaps them', async (t) => {
  const old = new ValueSigner([OLD]);
  const rotated = new ValueSigner([NEW, OLD]);
  const byOld = old.seal(KEY, PREDICTION);
  const byNew = rotated.seal(KEY, PREDICTION);
  t.not(byOld.slice(0, 12), byNew.slice(0, 12), 'the key ids differ');
  t.equal(byNew.slice(0, 12), new ValueSigner([NEW]).seal(KEY, PREDICTION).slice(0, 12), 'the rotated signer signs with the new key');
  t.equal(rotated.open(KEY, byOld), PREDICTION, 'and verifies what the old key signed');
  t.equal(old.open(KEY, byNew), undefined, 'a signer without the new key does not');
  t.equal(rotated.keyCount, 2);
  old.replaceKeys([NEW]);
  t.equal(old.open(KEY, byNew), PREDICTION, 'replaced keys verify');
  t.equal(old.open(KEY, byOld), undefined, 'and the removed key no longer does');
  t.throws(() => old.replaceKeys([]), /no signing key/);
});

t.test('signing keys: 32 to 64 characters of letters, digits and -._~+/=; errors name the position, never the key', async (t) => {
  t.same(signingKeysFromList([` ${NEW} `, '', OLD, NEW], 'CACHE_SIGNING_KEYS'), [NEW, OLD], 'trimmed, blanks skipped, merged, in order');
  const b64 = randomBytes(32).toString('base64');
  const hex = randomBytes(32).toString('hex');
  t.same(signingKeysFromList([b64, hex], 'X'), [b64, hex], 'openssl rand -base64 32 and -hex 32 are keys');
  const short = 'x'.repeat(31);
  const long = 'y'.repeat(65);
  const spaced = 'a key with spaces in it, 32 chars or more';
  for (const [items, message] of [
    [[OLD, short], /CACHE_SIGNING_KEYS: item 2 has 31 characters; a signing key has 32 to 64/],
    [[long], /item 1 has 65 characters/],
    [[spaced], /item 1 is not a signing key/],
    [['#'.repeat(40)], /item 1 is not a signing key/],
    [['', ' '], /CACHE_SIGNING_KEYS holds no key/],
  ] as [string[], RegExp][]) {
    const err = t.throws(() => signingKeysFromList(items, 'CACHE_SIGNING_KEYS')) as Error & { code: string };
    t.equal(err.code, 'INF_ERR_CONFIG');
    t.match(err.message, message);
    for (const item of items.filter((i) => i.trim() !== '')) t.notOk(err.message.includes(item), 'the message holds no key');
  }
});

t.test('CACHE_SIGNING_KEYS_FILE: one key a line, # comments and blank lines skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'signing-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys');
  writeFileSync(file, `# cache signing keys: the first signs\n\n${NEW}\r\n  # the old one, until its values expire\n${OLD}\n`);
  t.same(readSigningKeysFile(file), [NEW, OLD]);
  writeFileSync(file, '# nothing yet\n');
  t.throws(() => readSigningKeysFile(file), { code: 'INF_ERR_CONFIG', message: /CACHE_SIGNING_KEYS_FILE .* holds no key/ });
  writeFileSync(file, `${NEW}\nshort\n`);
  const err = t.throws(() => readSigningKeysFile(file)) as Error;
  t.match(err.message, /line 2 has 5 characters/);
  t.notOk(err.message.includes(NEW));
  t.throws(() => readSigningKeysFile(join(dir, 'absent')), {
    code: 'INF_ERR_CONFIG',
    message: /CACHE_SIGNING_KEYS_FILE: cannot read .*\(ENOENT\)/,
  });
});

t.test('the configuration: the keys parsed and redacted, the two sources exclusive', async (t) => {
  const config = loadConfig({ CACHE_SIGNING_KEYS: `${NEW},${OLD}` });
  t.same([...config.cacheSigningKeys!], [NEW, OLD]);
  t.equal(config.cacheSigningKeysFileCheckMs, 10000, 'the file is checked every 10 s by default');
  for (const shown of [JSON.stringify(config), inspect(config, { depth: 5 })]) {
    t.notOk(shown.includes(NEW) || shown.includes(OLD), 'no key when the configuration is printed');
    t.match(shown, /2 cache signing keys, redacted/);
  }
  t.equal(loadConfig({}).cacheSigningKeys, undefined, 'unset: no signing');
  t.equal(
    loadConfig({ CACHE_SIGNING_KEYS_FILE: '/run/keys' }).cacheSigningKeysFile,
    '/run/keys',
    'the file is read by the service, at start',
  );
  t.throws(
    () => loadConfig({ CACHE_SIGNING_KEYS: NEW, CACHE_SIGNING_KEYS_FILE: '/x' }),
    /CACHE_SIGNING_KEYS and CACHE_SIGNING_KEYS_FILE are exclusive/,
  );
  const err = t.throws(() => loadConfig({ CACHE_SIGNING_KEYS: `${NEW},tooshort` })) as Error;
  t.match(err.message, /item 2 has 8 characters/);
  t.notOk(err.message.includes(NEW));
});
