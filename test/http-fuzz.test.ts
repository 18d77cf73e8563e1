// A seeded fuzz of every route family (bench/lib/http-fuzz.ts): mutated bodies and the framing the application
// decides, a few thousand cases per family, each on a fresh connection. Every answer must be a well-formed HTTP
// response with a JSON body, never a 500, never a hang, nothing answered behind an answer that closed the
// connection, and the process must be alive at the end. FUZZ_SEED and FUZZ_CASES change the run;
// `npm run bench:fuzz` runs more.
import t from 'tap';
import { ROUTE_FAMILIES, runFuzz } from '../dist/bench/lib/http-fuzz.js';
import { startService } from './helper.js';

const seed = Number(process.env.FUZZ_SEED ?? 20261207);
const cases = Number(process.env.FUZZ_CASES ?? 3_000);

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());

for (const family of ROUTE_FAMILIES) {
  t.test(`${family}: ${cases} mutated requests (seed ${seed})`, async (t) => {
    const { problems, statuses } = await runFuzz(service.port, { seed, family, cases });
    t.same(problems.slice(0, 20), [], `every answer is well-formed JSON, no 500, no hang (${problems.length} problems)`);
    t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    // The mutator reaches both sides: answers the model gave, and refusals of bodies and of framing.
    t.ok((statuses.get(200) ?? 0) > 0, 'some cases are served (200)');
    t.ok(
      [...statuses.keys()].some((status) => status >= 400 && status < 500 && status !== 404),
      'some bodies are refused (4xx)',
    );
    t.ok((statuses.get(501) ?? 0) > 0, 'some framing is refused (501)');
    t.equal(service.child.exitCode, null, 'the process is alive');
  });
}

t.test('the service still answers after the fuzz', async (t) => {
  const health = await fetch(`${service.url}/project/health`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'healthy' });
});
