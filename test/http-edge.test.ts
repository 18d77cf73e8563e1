// The HTTP edge over raw sockets: request framing that could smuggle a request is refused with a JSON 400,
// HEAD answers every GET route, and the limits of the uWebSockets.js parser (which the application cannot
// change, docs/architecture.md "HTTP parser limits") are pinned, so a new binary that changes them fails here first.
import t from 'tap';
import { connect } from 'node:net';
import { startService } from './helper.js';

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());

interface Exchange {
  /** Everything the server sent, as latin1. */
  text: string;
  /** Whether the server closed the connection within the wait. */
  closed: boolean;
}

/**
 * Writes `parts` on one fresh connection, each in its own TCP packet (a pause between them), then collects
 * what the server sends for `waitMs`.
 */
function exchange(parts: readonly string[], waitMs = 500): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(service.port, '127.0.0.1');
    socket.setNoDelay(true);
    let text = '';
    let closed = false;
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', (err) => (closed ? undefined : reject(err)));
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        socket.write(part);
      }
      setTimeout(() => {
        socket.destroy();
        resolve({ text, closed });
      }, waitMs);
    });
  });
}

interface Response {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/** Splits what a connection received into responses; `bodyless` marks answers to HEAD (no body whatever the length). */
function responses(text: string, bodyless: readonly boolean[] = []): Response[] {
  const out: Response[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(rest)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = new Map<string, string[]>();
    for (const line of lines) {
      const name = line.slice(0, line.indexOf(':')).toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(line.indexOf(':') + 1).trim()]);
    }
    const length = bodyless[out.length] ? 0 : Number(headers.get('content-length')?.[0] ?? rest.length - end - 4);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

const request = (method: string, path: string, headers = '', body = '') => `${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`;
const predictBody = '{"text": ["I love you!"]}';
const healthGet = request('GET', '/project/health');

t.test('Repeated Content-Length is refused with a JSON 400 and the connection is closed.', async (t) => {
  const error = { detail: 'Conflicting message framing: send one Content-Length, or Transfer-Encoding alone' };
  for (const [name, lengths] of [
    ['different values', [String(predictBody.length), '2']],
    ['equal values', [String(predictBody.length), String(predictBody.length)]],
  ] as const) {
    const post = request(
      'POST',
      '/project/bulk-predict',
      `Content-Type: application/json\r\n${lengths.map((l) => `Content-Length: ${l}\r\n`).join('')}`,
      predictBody,
    );
    // A request meant to be smuggled follows in the next packet; nothing may answer it.
    const { text, closed } = await exchange([post, healthGet]);
    const [first, ...more] = responses(text);
    t.equal(first?.status, 400, `${name}: 400`);
    t.same(JSON.parse(first!.body), error, `${name}: a JSON error`);
    t.equal(first?.headers.get('content-type')?.[0], 'application/json');
    t.same(more, [], `${name}: nothing after it is read as a request`);
    t.ok(closed, `${name}: the connection is closed`);
  }
  // A shorter first length: the parser goes on to the bytes after it (in the same packet) before the 400 is
  // flushed; they are not a valid request line, so uWS sends its own 505 instead and closes. Nothing is served.
  const together = await exchange([
    request(
      'POST',
      '/project/bulk-predict',
      `Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: ${predictBody.length}\r\n`,
      predictBody,
    ) + healthGet,
  ]);
  t.notMatch(together.text, /^HTTP\/1\.1 200/m, 'in one packet: no request is served');
  t.ok(together.closed, 'in one packet: the connection is closed');
  for (const path of ['/project/health', '/project/nowhere']) {
    const { text } = await exchange([request('GET', path, 'Content-Length: 0\r\nContent-Length: 0\r\n')]);
    t.equal(responses(text)[0]?.status, 400, `also on GET ${path}`);
  }
  const single = responses(
    (
      await exchange(
        [
          request(
            'POST',
            '/project/bulk-predict',
            `Content-Type: application/json\r\nContent-Length: ${predictBody.length}\r\n`,
            predictBody,
          ),
        ],
        2_000,
      )
    ).text,
  );
  t.equal(single[0]?.status, 200, 'one Content-Length is served as before');
});

t.test('Content-Length with Transfer-Encoding, or as a list, never reaches the application: the parser answers 400 (HTML).', async (t) => {
  const chunked = `Transfer-Encoding: chunked\r\n`;
  for (const [name, headers, body] of [
    ['Content-Length + Transfer-Encoding', `Content-Length: 5\r\n${chunked}`, '5\r\nhello\r\n0\r\n\r\n'],
    ['Content-Length list', 'Content-Length: 5, 5\r\n', 'hello'],
  ] as const) {
    const { text, closed } = await exchange([request('POST', '/project/bulk-predict', headers, body)]);
    const [answer] = responses(text);
    t.equal(answer?.status, 400, name);
    t.match(answer?.body, /<h1>Bad Request<\/h1>/, `${name}: uWS' own HTML page`);
    t.ok(closed, `${name}: closed`);
  }
});

t.test('HEAD answers every GET route with the GET status and headers and no body.', async (t) => {
  for (const path of ['/project/health', '/project/openapi.json', '/project/docs', '/project/docs/swagger-ui.css', '/metrics']) {
    // HEAD, then GET on the same connection: a body after the HEAD answer would be misread as the GET's.
    const { text } = await exchange([request('HEAD', path), request('GET', path)], 1_000);
    const [head, get, ...more] = responses(text, [true, false]);
    t.equal(head?.status, 200, `HEAD ${path}: 200`);
    t.equal(head?.status, get?.status, `HEAD ${path}: the GET's status`);
    t.equal(head?.body, '', `HEAD ${path}: no body`);
    t.same(more, [], `HEAD ${path}: nothing else on the connection`);
    const without = (r: Response | undefined) =>
      [...(r?.headers ?? [])].filter(([name]) => name !== 'date' && name !== 'content-length').sort();
    t.same(without(head), without(get), `HEAD ${path}: the GET's headers`);
    if (path !== '/metrics')
      t.equal(
        head?.headers.get('content-length')?.[0],
        String(Buffer.byteLength(get!.body, 'latin1')),
        `HEAD ${path}: the GET body's length`,
      );
    else t.ok(Number(head?.headers.get('content-length')?.[0]) > 0, 'HEAD /metrics: the length of a scrape');
  }
  const { text } = await exchange([request('HEAD', '/project/nowhere'), request('HEAD', '/project/bulk-predict'), healthGet], 1_000);
  const [notFound, notAllowed, health] = responses(text, [true, true, false]);
  t.equal(notFound?.status, 404, 'HEAD on an unknown path: 404');
  t.equal(notFound?.body, '', 'without a body');
  t.equal(notAllowed?.status, 405, 'HEAD on the POST route: 405');
  t.equal(notAllowed?.headers.get('allow')?.[0], 'POST', 'Allow: POST');
  t.equal(health?.body, '{"status":"healthy"}', 'the connection still serves the next request');
  const wrong = responses((await exchange([request('DELETE', '/project/health')])).text)[0];
  t.equal(wrong?.headers.get('allow')?.[0], 'GET, HEAD', 'a GET route allows GET and HEAD');
});

// Each of these is decided inside the uWS parser before any handler runs, so it can only be pinned here and
// documented (docs/architecture.md "HTTP parser limits"); none of them reaches the logs or the metrics.
t.test('Parser limits of this uWebSockets.js build.', async (t) => {
  const http10 = responses((await exchange(['GET /project/health HTTP/1.0\r\nHost: x\r\n\r\n'])).text)[0];
  t.equal(http10?.status, 505, 'HTTP/1.0: 505');
  t.match(http10?.body, /does not support HTTP\/1\.0/, 'as an HTML page');

  const split = responses((await exchange(['GET /project/health HT', 'TP/1.1\r\nHost: x\r\n\r\n'])).text)[0];
  t.equal(split?.status, 505, 'a request line split inside the version across two TCP packets: 505 (uNetworking/uWebSockets#1776)');
  for (const parts of [
    ['GET /project/hea', 'lth HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['GET /project/health HTTP/1.1\r\nHo', 'st: x\r\n\r\n'],
  ]) {
    t.equal(responses((await exchange(parts)).text)[0]?.status, 200, `split elsewhere (${JSON.stringify(parts[0])}): served`);
  }

  const head = (size: number) => `GET /project/health HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(size)}\r\n\r\n`;
  t.equal(responses((await exchange([head(3_900)])).text)[0]?.status, 200, 'a 3.9 KB head is served');
  const large = await exchange([head(4_100)]);
  t.equal(responses(large.text)[0]?.status, 431, 'a head over ~4 KB: 431 (UWS_HTTP_MAX_HEADERS_SIZE raises it)');
  t.ok(large.closed, '431 closes the connection');

  const chunkedPost = (body: string) =>
    request('POST', '/project/bulk-predict', 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n', body);
  const hex = predictBody.length.toString(16);
  const plain = responses((await exchange([chunkedPost(`${hex}\r\n${predictBody}\r\n0\r\n\r\n`)], 2_000)).text)[0];
  t.equal(plain?.status, 200, 'a chunked body is served');
  const trailer = responses((await exchange([chunkedPost(`${hex}\r\n${predictBody}\r\n0\r\nX-Checksum: 1\r\n\r\n`)])).text)[0];
  t.equal(trailer?.status, 505, 'a chunked body with a trailer field: refused (505)');
  for (const size of [hex, '1']) {
    // Depending on the bytes, the parser answers 400 or waits for more: refused either way, never served.
    const body = size === hex ? predictBody : predictBody.slice(0, 1);
    const extension = await exchange([chunkedPost(`${size};name=value\r\n${body}\r\n0\r\n\r\n`)]);
    t.ok(
      extension.text === '' || /^HTTP\/1\.1 400 Bad Request\r\n/.test(extension.text),
      `a chunk extension (size ${size}): refused (${JSON.stringify(extension.text.slice(0, 24))})`,
    );
  }

  for (const [name, line] of [
    ['no colon', 'NoColonHere'],
    ['space in the name', 'Bad Name: 1'],
  ] as const) {
    const malformed = await exchange([`GET /project/health HTTP/1.1\r\nHost: x\r\n${line}\r\n\r\n`]);
    t.equal(malformed.text, '', `a malformed header line (${name}): no answer`);
  }
  t.equal(responses((await exchange([healthGet])).text)[0]?.status, 200, 'the service still answers');
});
