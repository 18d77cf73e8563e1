// A new user's first visit, in a real headless Chromium: /project/docs renders from this server alone, and
// Try-it-out on the documented example gets 200 with predictions. Every request the page makes is recorded;
// any to another host is aborted and fails the test, so nothing may leave the machine. With API keys configured,
// Try-it-out gets 401 until the key is given to the Authorize dialog, then 200.
import t from 'tap';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startService } from './helper.js';

// Debian's package (`apt-get install -y chromium`; .ci/run installs it). CHROMIUM_PATH points elsewhere.
const candidate = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const executablePath = existsSync(candidate) ? candidate : undefined;
const missing = 'chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH)';

if (!executablePath) {
  // A local run without a browser says so; CI installs chromium, so there a missing browser is a failure.
  if (process.env.CI === 'true') t.fail(`${missing}: CI must run the browser test`);
  else t.test('Swagger UI in a headless browser', { skip: missing }, () => {});
} else {
  await browserTests(executablePath);
}

async function browserTests(executable: string): Promise<void> {
  const service = await startService({ WORKERS: '1' });
  t.teardown(() => service.stop());
  const local = new URL(service.url).host;
  const browser: Browser = await chromium.launch({ executablePath: executable, headless: true });
  t.teardown(() => browser.close());

  t.test('docs render offline and Try-it-out on the example answers 200 with predictions', async (t) => {
    const context = await browser.newContext();
    const requested: string[] = [];
    const blocked: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requested.push(url);
      if (new URL(url).host === local) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));

    const visit = await page.goto(`${service.url}/project/docs/`);
    t.equal(visit?.status(), 200);
    t.equal(new URL(page.url()).pathname, '/project/docs', 'the trailing slash redirects to the page');
    t.equal(await page.locator('meta[name="viewport"]').getAttribute('content'), 'width=device-width, initial-scale=1');

    const operation = page.locator('#operations-predictions-bulk_predict');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    const body = operation.locator('textarea.body-param__text');
    t.same(JSON.parse(await body.inputValue()), { text: ['I love you!', 'I hate you!'] }, 'the request is prefilled with the example');
    t.match(await operation.locator('.responses-wrapper').innerText(), /POSITIVE/, "the response example shows the model's labels");

    const answer = page.waitForResponse((res) => res.url().endsWith('/project/bulk-predict') && res.request().method() === 'POST');
    await operation.getByRole('button', { name: 'Execute' }).click();
    const response = await answer;
    t.equal(response.status(), 200);
    const predictions = (await response.json()).predictions as { label: string; score: number }[][];
    t.equal(predictions.length, 2);
    t.same(
      predictions.map((list) => list.map((p) => p.label).sort()),
      [
        ['NEGATIVE', 'POSITIVE'],
        ['NEGATIVE', 'POSITIVE'],
      ],
    );
    const shown = operation.locator('.live-responses-table tbody .response-col_status').first();
    await shown.waitFor();
    t.equal((await shown.innerText()).trim(), '200', 'the page shows the 200');
    t.match(await operation.locator('.live-responses-table').innerText(), /x-request-id/, 'and the response headers');

    t.same(pageErrors, [], 'no script errors');
    t.same(blocked, [], 'no request left the machine');
    t.ok(
      requested.some((url) => url.endsWith('/project/openapi.json')),
      'the document came from this server',
    );
    t.ok(
      requested.every((url) => new URL(url).host === local),
      'every request went to this server',
    );

    // The guard itself: a request to another host is seen and aborted.
    const outcome = await page.evaluate(() =>
      fetch('http://192.0.2.1/probe').then(
        () => 'sent',
        () => 'aborted',
      ),
    );
    t.equal(outcome, 'aborted');
    t.same(blocked, ['http://192.0.2.1/probe'], 'and recorded');
    await context.close();
  });

  t.test('with API keys, Try-it-out gets 401 until Authorize is given a key, then 200', async (t) => {
    const key = 'browser-test-key-5d2c';
    const keyed = await startService({ WORKERS: '1', API_KEYS: `other-key-0000,${key}` });
    t.teardown(() => keyed.stop());
    const context = await browser.newContext();
    await context.route('**/*', (route) =>
      new URL(route.request().url()).host === new URL(keyed.url).host ? route.continue() : route.abort('blockedbyclient'),
    );
    const page = await context.newPage();
    await page.goto(`${keyed.url}/project/docs`);
    const operation = page.locator('#operations-predictions-bulk_predict');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();

    const execute = async (): Promise<{ status: number; authorization: string | null }> => {
      const answer = page.waitForResponse((res) => res.url().endsWith('/project/bulk-predict') && res.request().method() === 'POST');
      await operation.getByRole('button', { name: 'Execute' }).click();
      const response = await answer;
      return { status: response.status(), authorization: await response.request().headerValue('authorization') };
    };
    const refused = await execute();
    t.same(refused, { status: 401, authorization: null }, 'without a key: 401');
    const shown = operation.locator('.live-responses-table tbody .response-col_status').first();
    await shown.waitFor();
    t.equal((await shown.textContent())?.trim(), '401', 'the page shows the 401');

    await page.locator('.auth-wrapper button.authorize').click();
    await page.locator('.auth-container input').fill(key);
    await page.locator('.auth-btn-wrapper button.authorize').click();
    await page.locator('.auth-btn-wrapper button.btn-done').click();
    const accepted = await execute();
    t.same(accepted, { status: 200, authorization: `Bearer ${key}` }, 'with the key from Authorize: 200, sent as Bearer');
    await context.close();
  });
}
