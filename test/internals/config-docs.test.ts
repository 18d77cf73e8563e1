// Configuration is read in one place and documented once: schemas/config.json declares every setting (its
// TypeScript type is generated from it), and docs/configuration.md is generated from it (schemas/config-docs.mjs).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Config as configSchema } from '../../dist/src/generated/schemas.js';
import { loadConfig } from '../../dist/src/config.js';
import { CONFIG_DOCS_PATH, envName, renderConfigDocs } from '../../schemas/config-docs.mjs';

const properties = configSchema.properties as Record<string, { default?: unknown; description: string }>;
const page = readFileSync(CONFIG_DOCS_PATH, 'utf8');

t.test('docs/configuration.md is exactly what `npm run docs:config` writes from the schema', async (t) => {
  t.equal(page, renderConfigDocs(configSchema), 'regenerate it with npm run docs:config');
});

t.test('the page has one row per setting, in the schema order, with its default and description', async (t) => {
  const rows = page
    .split('\n')
    .map((line) => /^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$/.exec(line))
    .filter((m) => m !== null);
  t.same(
    rows.map((m) => m[1]),
    Object.keys(properties).map(envName),
  );
  for (const [i, [field, spec]] of Object.entries(properties).entries()) {
    t.equal(rows[i]?.[2], spec.default === undefined ? 'unset' : `\`${String(spec.default)}\``, `${envName(field)} default`);
    t.equal(rows[i]?.[3], spec.description, `${envName(field)} description`);
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
  const raw = [
    'redisHost',
    'redisPort',
    'otelSdkDisabled',
    'otelTracesExporter',
    'otelExporterOtlpEndpoint',
    'otelExporterOtlpTracesEndpoint',
  ];
  const expected = [...Object.keys(properties).filter((f) => !raw.includes(f)), 'modelDirIsDefault', 'otelTracesEndpoint'];
  t.same(
    Object.keys(config).sort(),
    expected.sort(),
    'REDIS_HOST and REDIS_PORT live on only in redisUrl, the OTEL_* switches in otelTracesEndpoint',
  );
});

t.test('tracing is off unless an exporter or an OTLP endpoint is given, and OTEL_SDK_DISABLED wins', async (t) => {
  const endpoint = (env: Record<string, string>) => loadConfig(env, '/nonexistent-cgroup').otelTracesEndpoint;
  t.equal(endpoint({}), undefined, 'off by default');
  t.equal(endpoint({ OTEL_TRACES_EXPORTER: 'otlp' }), 'http://localhost:4318/v1/traces', "the spec's default endpoint");
  t.equal(
    endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }),
    'http://collector:4318/v1/traces',
    'the base URL gets /v1/traces',
  );
  t.equal(
    endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/traces' }),
    'https://b/traces',
    'the traces URL is used as it is, and wins',
  );
  t.equal(endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' }), undefined, 'none');
  t.equal(endpoint({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), undefined, 'OTEL_SDK_DISABLED');
  t.throws(() => endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), { code: 'INF_ERR_CONFIG', message: /http\(s\) URL/ });
  t.throws(() => endpoint({ OTEL_TRACES_EXPORTER: 'zipkin' }), { code: 'INF_ERR_CONFIG', message: /OTEL_TRACES_EXPORTER/ });
  t.throws(() => endpoint({ OTEL_TRACES_SAMPLER_ARG: '2' }), { code: 'INF_ERR_CONFIG', message: /OTEL_TRACES_SAMPLER_ARG/ });
});

t.test('an invalid setting is an INF_ERR_CONFIG start-up error naming the variable', async (t) => {
  t.throws(() => loadConfig({ UNKNOWN_SETTING: '1', BASE_PATH: 'no-slash' }), {
    code: 'INF_ERR_CONFIG',
    message: /BASE_PATH must match pattern/,
  });
  t.throws(() => loadConfig({ REDIS_PORT: 'x' }), { code: 'INF_ERR_CONFIG', message: /REDIS_PORT must be a port/ });
});
