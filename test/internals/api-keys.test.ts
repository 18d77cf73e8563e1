// The parts of the API key check that the HTTP tests (test/api-keys.test.ts) cannot see: the comparison runs on
// fixed-length digests (so neither a key's length nor a prefix match shows in its time; this asserts the path,
// not timings), the header parsing, and the configuration, which never shows a key in a message or a log line.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadConfig } from '../../dist/src/config.js';
import { parseApiKeyRoutes, readApiKeysFile } from '../../dist/src/api-key-source.js';
import { ApiKeyGuard, bearerToken, keyDigest, matchesAnyDigest, routeGroup } from '../../dist/src/http/api-keys.js';

const KEYS = ['first-key-0123', 'second-key-4567'];

t.test('keys are compared as SHA-256 digests: always 32 bytes with 32 bytes, whatever was sent', async (t) => {
  for (const token of ['', 'a', KEYS[0], 'x'.repeat(10_000), 'ü€😀']) {
    t.equal(keyDigest(token).length, 32, `a ${token.length}-character token digests to 32 bytes`);
  }
  const digests = KEYS.map(keyDigest);
  t.equal(matchesAnyDigest(keyDigest(KEYS[1]), digests), true, 'the last key matches: every digest is compared');
  t.equal(matchesAnyDigest(keyDigest(KEYS[0]), digests), true);
  t.equal(matchesAnyDigest(keyDigest('first-key-012'), digests), false, 'a prefix does not');
  // timingSafeEqual itself refuses buffers of different lengths: the compare is crypto.timingSafeEqual, and
  // only digests (never the raw key and token) reach it, or the calls above would have thrown.
  t.throws(() => matchesAnyDigest(Buffer.from('short'), digests), /same byte length/);

  const refused: string[] = [];
  const guard = new ApiKeyGuard(KEYS, new Set(['predict']), (reason) => refused.push(reason));
  t.equal(guard.check(`Bearer ${KEYS[1]}`), undefined);
  t.equal(guard.check('Bearer k')?.code, 'INF_ERR_API_KEY_INVALID', 'a token much shorter than any key is refused, not thrown on');
  t.equal(guard.check(`Bearer ${'k'.repeat(5000)}`)?.code, 'INF_ERR_API_KEY_INVALID');
  t.equal(guard.check('')?.code, 'INF_ERR_API_KEY_MISSING');
  t.same(refused, ['invalid', 'invalid', 'missing'], 'each refusal is reported with its reason');
  guard.replaceKeys(['third-key-89ab']);
  t.equal(guard.check(`Bearer ${KEYS[0]}`)?.code, 'INF_ERR_API_KEY_INVALID', 'replaced keys no longer match');
  t.equal(guard.check('Bearer third-key-89ab'), undefined);
  t.ok(guard.protects('predict') && !guard.protects('health'));
});

t.test('the bearer token of an Authorization header', async (t) => {
  const cases: [string, string | undefined][] = [
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BeArEr abc', 'abc'],
    ['Bearer    abc', 'abc'],
    ['  Bearer abc  ', 'abc'],
    ['Bearer a b', 'a b'],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer   ', undefined],
    ['Bearerabc', undefined],
    ['Basic YTpi', undefined],
    ['abc', undefined],
  ];
  for (const [header, token] of cases) t.equal(bearerToken(header), token, JSON.stringify(header));
});

t.test('the route groups of API_KEY_ROUTES', async (t) => {
  t.same(parseApiKeyRoutes('all'), ['predict', 'info', 'docs', 'health', 'metrics']);
  t.same(parseApiKeyRoutes('predict,health,predict'), ['predict', 'health']);
  t.same(loadConfig({}).apiKeyRoutes, ['predict'], 'default: the prediction routes');
  t.throws(() => loadConfig({ API_KEY_ROUTES: 'predict,everything' }), /API_KEY_ROUTES must match pattern/);
  const config = { basePath: '/project', metricsPath: '/metrics', teiPrefix: '/tei' };
  const groups: [string, string | undefined][] = [
    ['/project/bulk-predict', 'predict'],
    ['/project/health', 'health'],
    ['/project/info', 'info'],
    ['/project/openapi.json', 'docs'],
    ['/project/docs', 'docs'],
    ['/project/docs/', 'docs'],
    ['/project/docs/*', 'docs'],
    ['/metrics', 'metrics'],
    ['/project/other', undefined],
    ['/health', undefined],
    ['/project/models/:name/bulk-predict', 'predict'],
    ['/project/models/{name}/bulk-predict', 'predict'],
    ['/project/models', 'info'],
    ['/project/models/:name/info', 'info'],
    ['/models/:name', 'predict'],
    ['/models/{name}', 'predict'],
  ];
  for (const [path, group] of groups) t.equal(routeGroup(path, config), group, path);
  t.equal(routeGroup('/health', { basePath: '', metricsPath: '/metrics', teiPrefix: '/tei' }), 'health', 'an empty BASE_PATH');
});

t.test('the repository group: its routes, guarded whenever predict is, or named alone', async (t) => {
  const config = { basePath: '/project', metricsPath: '/metrics', teiPrefix: '' };
  for (const path of ['/v2/repository/index', '/v2/repository/models/:name/load', '/v2/repository/models/:name/unload']) {
    t.equal(routeGroup(path, config), 'repository', path);
  }
  const guards = (routes: string) => {
    const guard = new ApiKeyGuard(['k'], loadConfig({ API_KEY_ROUTES: routes }).apiKeyRoutes);
    return { predict: guard.protects('predict'), repository: guard.protects('repository'), info: guard.protects('info') };
  };
  t.same(guards('predict'), { predict: true, repository: true, info: false }, 'the default: predict brings repository');
  t.same(guards('all'), { predict: true, repository: true, info: true }, 'all');
  t.same(guards('repository'), { predict: false, repository: true, info: false }, 'repository alone');
  t.same(guards('info,health'), { predict: false, repository: false, info: true }, 'neither');
});

t.test('API_KEYS: a list, trimmed, never shown in a message, a log line or an inspected config', async (t) => {
  const config = loadConfig({ API_KEYS: ` ${KEYS[0]} ,, ${KEYS[1]},${KEYS[0]} ` });
  t.same([...config.apiKeys!], KEYS, 'trimmed, blanks dropped, duplicates merged');
  t.ok(Object.isFrozen(config.apiKeys));
  for (const shown of [JSON.stringify(config), inspect(config, { depth: 5 }), JSON.stringify({ ...config })]) {
    for (const key of KEYS) t.notOk(shown.includes(key), 'the config prints without the keys');
    t.match(shown, /2 API keys, redacted/);
  }
  t.equal(loadConfig({}).apiKeys, undefined, 'unset: no keys');

  const secret = 'bad key with spaces';
  const invalid = t.throws(() => loadConfig({ API_KEYS: `${KEYS[0]},${secret}` })) as Error;
  t.match(invalid.message, /API_KEYS: item 2 is not a bearer token/);
  t.notOk(invalid.message.includes(secret), 'the message names the position, not the key');
  t.throws(() => loadConfig({ API_KEYS: ' , ' }), /API_KEYS holds no key/);
  t.throws(() => loadConfig({ API_KEYS: 'k', API_KEYS_FILE: '/x' }), /API_KEYS and API_KEYS_FILE are exclusive/);
  t.equal(loadConfig({ API_KEYS_FILE: '/x' }).apiKeysFileCheckMs, 10_000);
});

t.test('API_KEYS_FILE: one key a line, # comments and blank lines skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'api-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'keys');
  writeFileSync(file, `# rotated 2026-12-04\n\n  ${KEYS[0]}  \r\n   # ${KEYS[1]} is disabled\n${KEYS[1]}\n`);
  t.same(readApiKeysFile(file), KEYS);

  writeFileSync(file, '# nothing yet\n\n');
  t.throws(() => readApiKeysFile(file), { code: 'INF_ERR_CONFIG', message: /holds no key/ });
  const secret = 'has spaces inside';
  writeFileSync(file, `${KEYS[0]}\n${secret}\n`);
  const invalid = t.throws(() => readApiKeysFile(file)) as Error;
  t.match(invalid.message, /line 2 is not a bearer token/);
  t.notOk(invalid.message.includes(secret));
  t.throws(() => readApiKeysFile(join(dir, 'absent')), { code: 'INF_ERR_CONFIG', message: /cannot read .*absent \(ENOENT\)/ });
});
