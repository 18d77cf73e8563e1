// Every route runs the one request pipeline (src/http/pipeline.ts): each is counted in inf_http_requests_total
// by route and status, and a request of any route still in flight at SIGTERM is answered before the exit.
import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { metric, postPredict, scrape, startService, waitFor } from './helper.js';
import { request, responses } from './raw-http.js';

const BASE = '/project';

t.test('every route, not only the prediction routes, is counted by route and status; /metrics is not', async (t) => {
  const service = await startService({ WORKERS: '1', TEI_PREFIX: '/tei' });
  t.teardown(() => service.stop());
  const calls: [string, string, string][] = [
    // [method, path, the sample it must leave]
    ['GET', `${BASE}/health`, 'route="health",status="200"'],
    ['HEAD', `${BASE}/health`, 'route="health",status="200"'],
    ['GET', `${BASE}/info`, 'route="info",status="200"'],
    ['GET', `${BASE}/openapi.json`, 'route="openapi",status="200"'],
    ['GET', `${BASE}/docs`, 'route="docs",status="200"'],
    ['GET', `${BASE}/docs/`, 'route="docs",status="301"'],
    ['GET', `${BASE}/docs/swagger-ui.css`, 'route="docs-asset",status="200"'],
    ['GET', `${BASE}/docs/nothing-here.js`, 'route="docs-asset",status="404"'],
    ['GET', '/tei/info', 'route="tei-info",status="200"'],
    ['GET', '/tei/health', 'route="tei-health",status="200"'],
    ['GET', '/v2', 'route="oip-server-metadata",status="200"'],
    ['GET', '/v2/health/live', 'route="oip-live",status="200"'],
    ['GET', '/v2/health/ready', 'route="oip-ready",status="200"'],
    ['GET', '/v2/models/not-this-one', 'route="oip-model-metadata",status="404"'],
    ['GET', '/v2/models/not-this-one/ready', 'route="oip-model-ready",status="404"'],
    ['DELETE', `${BASE}/info`, 'route="info",status="405"'],
    ['GET', '/no/such/path', 'route="not-found",status="404"'],
  ];
  for (const [method, path] of calls) {
    const res = await fetch(`${service.url}${path}`, { method, redirect: 'manual' });
    await res.arrayBuffer();
  }
  const predicted = await postPredict(service.url, { text: ['a counted prediction'] });
  t.equal(predicted.status, 200);
  calls.push(['POST', `${BASE}/bulk-predict`, 'route="bulk-predict",status="200"']);

  const samples = [...new Set(calls.map(([, , sample]) => `inf_http_requests_total{${sample}}`))];
  const counts = await scrape(service.url, ...samples);
  samples.forEach((sample, i) => t.ok(counts[i]! >= 1, `${sample} = ${counts[i]}`));
  const [getHealth] = await scrape(service.url, `inf_http_request_duration_seconds_count{route="health",status="200"}`);
  t.ok(getHealth! >= 2, 'with its duration');

  const exposition = await (await fetch(`${service.url}/metrics`)).text();
  t.notMatch(exposition, /route="metrics"/, 'the scrapes themselves are not counted');
  t.equal(metric(exposition, 'inf_http_requests_total{route="info",status="200"}'), 1, 'one GET of /info, one count');
});

// uWS hands a body to the kernel as fast as the client reads it; a response larger than the socket's buffers
// stays in flight, in uWS, for as long as the client does not read. The largest docs asset (Swagger UI's
// bundle, ~1.7 MB) asked for a few times on one connection that is not read is such a request.
const BUNDLE = `${BASE}/docs/swagger-ui-bundle.js`;
const SAMPLE = 'inf_http_requests_total{route="docs-asset",status="200"}';

t.test('a docs asset still being sent at SIGTERM is sent whole before the process exits', async (t) => {
  const service = await startService({ WORKERS: '1', SHUTDOWN_GRACE_MS: '120000' });
  t.teardown(() => service.stop('SIGKILL'));
  const socket = connect(service.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();

  const sent = async () => (await scrape(service.url, SAMPLE).catch(() => [0]))[0]!;
  let asked = 0;
  // Each request is answered whole while the kernel's buffers take it; the first that does not fit stays in flight.
  for (; asked < 12; ) {
    socket.write(request('GET', BUNDLE));
    asked++;
    const finished = await waitFor(async () => (await sent()) === asked, 1_500, 'answered').then(
      () => true,
      () => false,
    );
    if (!finished) break;
  }
  t.ok((await sent()) < asked, `request ${asked} on the unread connection is still being sent`);

  service.child.kill('SIGTERM');
  await waitFor(() => service.output().includes('"msg":"draining"'), 10_000, 'draining log line');
  const draining = service
    .output()
    .split('\n')
    .find((line) => line.includes('"msg":"draining"'))!;
  t.equal(JSON.parse(draining).inFlight, 1, 'the drain counts the unfinished answer');
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.equal(service.child.exitCode, null, 'the process waits for it');
  t.notMatch(service.output(), /"msg":"stopped"/);

  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  const [code] = await once(service.child, 'exit');
  await waitFor(() => socket.readableEnded || socket.destroyed, 10_000, 'the connection closed after the last answer');
  const answers = responses(Buffer.concat(chunks).toString('latin1'));
  t.equal(answers.length, asked, 'every request on the connection was answered');
  for (const answer of answers) {
    t.equal(answer.status, 200);
    t.equal(answer.body.length, Number(answer.headers.get('content-length')?.[0]), 'whole');
  }
  t.equal(code, 0, 'exit code 0');
  t.notMatch(service.output(), /grace period over/, 'drained, not cut off at the grace period');
  t.match(service.output(), /"msg":"draining"[\s\S]*"msg":"stopped"/);
});
