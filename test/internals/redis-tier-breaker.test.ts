// The Redis tier's circuit breaker judges Redis, not the event loop (src/cache/redis-tier.ts): against a real
// redis-server, lookups that miss their budget because this process's event loop was blocked are misses for
// their requests but leave the breaker closed; a Redis that is really slow (DEBUG SLEEP, CLIENT PAUSE) opens it.
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisTier } from '../../dist/src/cache/redis-tier.js';
import { CoalescedLookups } from '../../dist/src/cache/coalesced-lookups.js';
import { SingleRedis } from '../../dist/src/cache/redis-transport.js';
import { startRedis, waitFor } from '../helper.js';

const BUDGET_MS = 30;
const redisServer = await startRedis();
t.teardown(() => redisServer.stop());

/** A tier as the service builds it (coalesced lookups over one server), with its log lines and counters. */
async function tier(t: Test, budgetMs = BUDGET_MS) {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const counts = { errors: 0, skipped: 0 };
  const redis = new RedisTier({
    transport: new CoalescedLookups(new SingleRedis(redisServer.url, {})),
    ttlSeconds: 60,
    lookupTimeoutMs: budgetMs,
    logger,
    onError: () => counts.errors++,
    onSkip: () => counts.skipped++,
  });
  t.teardown(() => redis.close());
  await waitFor(() => redis.isUp, 5000, 'connected');
  t.ok(await redis.setMany(['k1', 'k2'], ['v1', 'v2']), 'two keys written');
  const logged = (what: string) => lines.filter((line) => line.includes(what)).length;
  return { redis, counts, logged };
}

/** Blocks this thread's event loop, as a saturated service's main thread is between two polls for I/O. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Past every judgement: a late read is judged at most a budget or two after it was sent. */
const settle = () => sleep(10 * BUDGET_MS);

t.test('lookups late only because the event loop was blocked are misses, and leave the breaker closed', async (t) => {
  const { redis, counts, logged } = await tier(t);
  t.same(await redis.getMany(['k1', 'k2']), ['v1', 'v2'], 'an unhindered lookup is answered');

  const blockedBeforeSending: unknown[] = [];
  for (let i = 0; i < 5; i++) {
    await sleep(BUDGET_MS);
    // The lookup waits for its flush (a later turn) to be sent; the loop is blocked past its budget first.
    const lookup = redis.getMany(['k1', 'k2']);
    busyWait(4 * BUDGET_MS);
    blockedBeforeSending.push(await lookup);
  }
  const blockedBeforeReading: unknown[] = [];
  for (let i = 0; i < 5; i++) {
    await sleep(BUDGET_MS);
    // Sent (the flush ran), then the loop is blocked while Redis answers: the answer waits in the socket.
    const lookup = redis.getMany(['k1', 'k2']);
    await new Promise((resolve) => setImmediate(resolve));
    busyWait(4 * BUDGET_MS);
    blockedBeforeReading.push(await lookup);
  }
  await settle();
  t.same(blockedBeforeSending, Array(5).fill(undefined), 'blocked before the read was sent: each lookup is a miss for its request');
  t.same(blockedBeforeReading, Array(5).fill(undefined), 'blocked before the answer was read: a miss too');
  t.equal(logged('redis unhealthy'), 0, 'no "redis unhealthy": ten lookups past their budget, none of them Redis late');
  t.ok(redis.isUp, 'the breaker is closed');
  t.equal(counts.errors, 10, 'each lookup past its budget is counted (inf_cache_redis_errors_total), as before');
  t.equal(counts.skipped, 0, 'no lookup skipped');
  t.same(await redis.getMany(['k1', 'k2']), ['v1', 'v2'], 'and the next lookup goes to Redis');
});

t.test('one read late by a hiccup shorter than three budgets, shared by many lookups, is one failure: closed', async (t) => {
  // A larger budget, so that a loaded machine does not stretch the hiccup to three budgets.
  const budgetMs = 60;
  const { redis, counts, logged } = await tier(t, budgetMs);
  const blocker = new Redis(redisServer.url);
  t.teardown(() => blocker.disconnect());
  await blocker.ping();
  // Late by more than one budget: every lookup of these turns shares the one read in flight, or waits behind it.
  const hiccup = blocker.call('DEBUG', 'SLEEP', String((1.4 * budgetMs) / 1000));
  await sleep(5);
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => sleep(i).then(() => redis.getMany(['k1', 'k2']))));
  await hiccup;
  await settle();
  t.ok(
    answers.some((a) => a === undefined),
    `${answers.filter((a) => a === undefined).length} of 20 lookups missed their budget`,
  );
  t.equal(counts.errors, answers.filter((a) => a === undefined).length, 'each lookup past its budget counted as an error');
  t.ok(redis.isUp, 'but the breaker stays closed: one late read');
  t.equal(logged('redis unhealthy'), 0);
});

for (const [what, slowDown] of [
  ['DEBUG SLEEP (the server busy)', (client: Redis) => client.call('DEBUG', 'SLEEP', '0.6')],
  ['CLIENT PAUSE (commands held)', (client: Redis) => client.call('CLIENT', 'PAUSE', '600', 'ALL')],
] as const) {
  t.test(`a Redis that is slow for real, ${what}, still opens the breaker`, async (t) => {
    const { redis, counts, logged } = await tier(t);
    const blocker = new Redis(redisServer.url);
    t.teardown(() => blocker.disconnect());
    await blocker.ping();
    const slow = slowDown(blocker);
    await sleep(20);
    const started = performance.now();
    const answers: unknown[] = [];
    // One lookup at a time, as a quiet service asks: the first read stays in flight, the next ones wait for it.
    // Each budget it stays unanswered is a failure: the third budget opens the breaker.
    while (redis.isUp && performance.now() - started < 400) answers.push(await redis.getMany(['k1', 'k2']));
    await sleep(BUDGET_MS);
    t.ok(!redis.isUp, `the breaker opened ${Math.round(performance.now() - started)} ms into the slowness, before Redis woke`);
    t.ok(answers.length >= 3, `${answers.length} lookups meanwhile`);
    t.same(answers, Array(answers.length).fill(undefined), 'each a miss at its budget');
    t.equal(logged('redis unhealthy'), 1, '"redis unhealthy" logged once');
    t.equal(counts.errors, answers.length, 'each lookup past its budget counted as an error');
    t.equal(await redis.getMany(['k1']), undefined, 'while open, lookups skip Redis');
    t.equal(counts.skipped, 1, 'and are counted as skipped');
    await slow;
    await waitFor(async () => (await redis.getMany(['k1']))?.[0] === 'v1', 5000, 'a probe after the open interval answered');
    t.ok(redis.isUp, 'closed again once Redis answers in time');
    t.equal(logged('redis healthy again'), 1);
  });
}
