// 10x overload: 200 connections x 32 never-seen texts for 10 s. Admission by predicted wait refuses what would
// not finish in time: every answer is 200 or 503 with Retry-After, never 504; a fully cached request sent
// during the overload is answered 200; afterwards the service is healthy and serves new texts at once.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { postPredict, SST2_DEV_TSV, startService } from './helper.js';

const CONNECTIONS = 200;
const TEXTS = 32;
const SECONDS = 10;
const sentences = readFileSync(SST2_DEV_TSV, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => line.split('\t')[0]);

t.test(`${CONNECTIONS} connections x ${TEXTS} new texts for ${SECONDS} s: only 200 or 503 + Retry-After, no 504`, async (t) => {
  const service = await startService({ WORKERS: '2' });
  t.teardown(() => service.stop());
  const cachedTexts = ['cached during the overload: a fine film', 'and a dull one'];
  t.equal((await postPredict(service.url, { text: cachedTexts })).status, 200, 'cached beforehand');

  let n = 0;
  const statuses = new Map<number, number>();
  const missingRetryAfter: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  const connection = async () => {
    while (Date.now() < end) {
      const text = Array.from({ length: TEXTS }, () => `${sentences[n % sentences.length]} #${n++}`);
      const res = await fetch(`${service.url}/project/bulk-predict`, {
        method: 'POST',
        body: JSON.stringify({ text }),
        headers: { 'content-type': 'application/json' },
      });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 503 && !/^[1-9]\d*$/.test(res.headers.get('retry-after') ?? '')) missingRetryAfter.push(res.status);
    }
  };
  const load = Promise.all(Array.from({ length: CONNECTIONS }, connection));
  await new Promise((resolve) => setTimeout(resolve, (SECONDS / 2) * 1000));
  const cached = await postPredict(service.url, { text: cachedTexts });
  await load;

  const summary = [...statuses].map(([status, count]) => `${count} x ${status}`).join(', ');
  t.same(
    [...statuses.keys()].filter((s) => s !== 200 && s !== 503),
    [],
    `only 200 and 503 (${summary})`,
  );
  t.ok((statuses.get(503) ?? 0) > 0, 'the overload was refused in part');
  t.ok((statuses.get(200) ?? 0) > 0, 'and served in part');
  t.same(missingRetryAfter, [], 'every 503 carries a Retry-After in seconds');
  t.equal(cached.status, 200, 'a fully cached request during the overload is answered');
  t.equal(cached.headers.get('x-cache'), 'hit');

  t.equal((await fetch(`${service.url}/project/health`)).status, 200, 'healthy afterwards');
  const after = await postPredict(service.url, { text: ['after the overload', 'new texts', 'are served'] });
  t.equal(after.status, 200, 'new texts are served after the overload');
});
