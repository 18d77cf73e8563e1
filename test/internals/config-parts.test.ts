// Each part is handed the settings it reads, not the whole configuration: the protocol edges, which every request
// reaches, holds no secret (the Redis credentials reach only the cache, keys only their guard and signer).
import t from 'tap';
import { EDGE_SETTINGS, loadConfig, settingsFor } from '../../dist/src/config.js';

const SECRET = 'hunter2-secret';

t.test("the edges' settings carry none of the configuration's secrets", async (t) => {
  const config = loadConfig({
    REDIS_URL: `redis://cache-user:${SECRET}@redis.internal:6379/0`,
    API_KEYS: `key-${SECRET}`,
    CACHE_SIGNING_KEYS: `signing-${SECRET}-0123456789abcdef0123456789abcdef`,
    MAX_TEXTS: '7',
  });
  t.match(config.redisUrl, SECRET, 'the whole configuration holds the password');
  const http = settingsFor(config, EDGE_SETTINGS);
  t.same(Object.keys(http).sort(), [...EDGE_SETTINGS].sort(), 'exactly the settings it reads');
  t.equal(http.maxTexts, 7, 'with their values');
  const text = JSON.stringify(http, (_key, value: unknown) => (Array.isArray(value) ? value.map(String) : value));
  t.notMatch(text, SECRET, 'no secret among them');
  t.notMatch(text, 'redis', 'nothing of Redis');
  t.ok(Object.isFrozen(http), 'read-only, as the configuration is');
});
