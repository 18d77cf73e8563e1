// Configuration is read in one place and documented: every setting of schemas/config.json has a README row
// with its environment variable and default.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Config as configSchema } from '../../dist/src/generated/schemas.js';
import { loadConfig } from '../../dist/src/config.js';
import { repoRoot } from '../helper.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const envName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

t.test('every setting has a README row naming its variable and its default', async (t) => {
  for (const [field, spec] of Object.entries(configSchema.properties as Record<string, { default?: unknown }>)) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${envName(field)}\``));
    t.ok(row, `${envName(field)} documented`);
    if (row && spec.default !== undefined) t.ok(row.includes(`\`${String(spec.default)}\``), `${envName(field)} default ${spec.default}`);
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
  t.throws(() => loadConfig({ UNKNOWN_SETTING: '1', BASE_PATH: 'no-slash' }), /BASE_PATH must match pattern/);
});
