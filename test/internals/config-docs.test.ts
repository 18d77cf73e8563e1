// Configuration is read in one place and documented once: schemas/config.json declares every setting (its
// TypeScript type is generated from it), and the README's table must say the same.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Config as configSchema } from '../../dist/src/generated/schemas.js';
import { loadConfig } from '../../dist/src/config.js';
import { repoRoot } from '../helper.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const envName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
const properties = configSchema.properties as Record<string, { default?: unknown; description: string }>;

/** The README's configuration table: variable -> [default cell, description cell]. */
const readmeRows = new Map(
  readme
    .slice(readme.indexOf('## Configuration'))
    .split('\n')
    .map((line) => /^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => [m[1]!, [m[2]!, m[3]!]] as const),
);

t.test('the README table has one row per setting, in the schema order', async (t) => {
  t.same([...readmeRows.keys()], Object.keys(properties).map(envName));
});

t.test('each row gives the schema default, or "unset" where the schema has none', async (t) => {
  for (const [field, spec] of Object.entries(properties)) {
    const [cell] = readmeRows.get(envName(field)) ?? [];
    t.equal(cell, spec.default === undefined ? 'unset' : `\`${String(spec.default)}\``, envName(field));
  }
});

t.test("each row's meaning is the schema description, word for word", async (t) => {
  for (const [field, spec] of Object.entries(properties)) {
    t.equal(readmeRows.get(envName(field))?.[1], spec.description, envName(field));
  }
});

t.test('defaults come from the schema and the result is frozen', async (t) => {
  const config = loadConfig({}, '/nonexistent-cgroup');
  t.equal(config.port, 8000);
  t.equal(config.basePath, '/project');
  t.equal(config.maxBodyBytes, 1048576);
  t.equal(config.maxTexts, 1000);
  t.equal(config.cachePrefix, 'fastapi-cache-project');
  t.equal(config.timingHeaders, true);
  t.ok(Object.isFrozen(config));
  t.equal(loadConfig({ TIMING_HEADERS: 'false', METRICS_ENABLED: 'false' }).timingHeaders, false, 'booleans are coerced');
});

t.test('the config holds the settings and the derived fields, nothing raw', async (t) => {
  const config = loadConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380' }, '/nonexistent-cgroup');
  t.equal(config.redisUrl, 'redis://cache:6380');
  const expected = [...Object.keys(properties).filter((f) => f !== 'redisHost' && f !== 'redisPort'), 'modelDirIsDefault'];
  t.same(Object.keys(config).sort(), expected.sort(), 'REDIS_HOST and REDIS_PORT live on only in redisUrl');
});

t.test('an invalid setting is an INF_ERR_CONFIG start-up error naming the variable', async (t) => {
  t.throws(() => loadConfig({ UNKNOWN_SETTING: '1', BASE_PATH: 'no-slash' }), {
    code: 'INF_ERR_CONFIG',
    message: /BASE_PATH must match pattern/,
  });
  t.throws(() => loadConfig({ REDIS_PORT: 'x' }), { code: 'INF_ERR_CONFIG', message: /REDIS_PORT must be a port/ });
});
