// The HTTP edge over raw sockets: request framing that could smuggle a request is refused with a JSON 400 or 501,
// an answer that closes the connection ends it, HEAD answers every GET route, and the limits of the uWebSockets.js
// parser (which the application cannot change, docs/api.md "HTTP framing and parser limits") are pinned, so a new
// binary that changes them fails here first.
import t from 'tap';
import { startService } from './helper.js';
import { type Exchange, exchange as exchangeWith, request, type Response, responses } from './raw-http.js';

const service = await startService({ WORKERS: '1' });
t.teardown(() => service.stop());

const exchange = (parts: readonly string[], waitMs?: number): Promise<Exchange> => exchangeWith(service.port, parts, waitMs);
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
// documented (docs/api.md "HTTP framing and parser limits"); none of them reaches the logs or the metrics.
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
    ['space before the colon', 'Foo : 1'],
    ['obs-fold', 'Foo: 1\r\n  folded'],
    ['NUL in a value', 'Foo: a\0b'],
    ['bare CR in a value', 'Foo: a\rb'],
  ] as const) {
    const malformed = await exchange([`GET /project/health HTTP/1.1\r\nHost: x\r\n${line}\r\n\r\n`]);
    t.equal(malformed.text, '', `a malformed header line (${name}): no answer`);
  }
  t.equal(responses((await exchange([healthGet])).text)[0]?.status, 200, 'the service still answers');
});

// Finding 1 of "A strict edge": uWS parses every request it read in one go, so a request written behind one whose
// answer closes the connection used to be served, also after a 400 for the very framing that smuggles it.
t.test('Once an answer says Connection: close, nothing more is read from the connection.', async (t) => {
  const keyed = await startService({ WORKERS: '1', API_KEYS: 'secret-key-1' });
  t.teardown(() => keyed.stop());
  const json = 'Content-Type: application/json\r\n';
  const length = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  const cases: [name: string, port: number, first: string, status: number][] = [
    [
      'repeated Content-Length',
      service.port,
      request('POST', '/project/bulk-predict', json + length(predictBody) + length(predictBody), predictBody),
      400,
    ],
    ['415', service.port, request('POST', '/project/bulk-predict', `Content-Type: text/plain\r\n${length(predictBody)}`, predictBody), 415],
    ['404 with a body', service.port, request('POST', '/project/nowhere', json + length(predictBody), predictBody), 404],
    ['405 with a body', service.port, request('PUT', '/project/bulk-predict', json + length(predictBody), predictBody), 405],
    [
      '413 (declared far over the limit)',
      service.port,
      request('POST', '/project/bulk-predict', `${json}Content-Length: 99999999\r\n`, predictBody),
      413,
    ],
    ['401 (API keys)', keyed.port, request('POST', '/project/bulk-predict', json + length(predictBody), predictBody), 401],
    [
      'Transfer-Encoding: gzip',
      service.port,
      request('POST', '/project/bulk-predict', `${json}Transfer-Encoding: gzip\r\n`, '0\r\n\r\n'),
      400,
    ],
    ['Connection: close asked by the client (served)', service.port, request('GET', '/project/health', 'Connection: close\r\n'), 200],
    [
      'a chunked body (served)',
      service.port,
      request(
        'POST',
        '/project/bulk-predict',
        `${json}Transfer-Encoding: chunked\r\n`,
        `${predictBody.length.toString(16)}\r\n${predictBody}\r\n0\r\n\r\n`,
      ),
      200,
    ],
  ];
  for (const [name, port, first, status] of cases) {
    // The request meant to be smuggled: one the server would answer 200 at once.
    const smuggled = request('GET', '/project/info');
    const together = await exchangeWith(port, [first + smuggled], 2_000);
    t.notMatch(together.text, /"model_sha256"/, `${name}, in one write: the request behind it is never answered`);
    t.ok(together.closed, `${name}, in one write: the connection is closed`);
    const apart = await exchangeWith(port, [first, smuggled], 2_000);
    const [answer, ...more] = responses(apart.text);
    t.equal(answer?.status, status, `${name}, in two packets: ${status}`);
    // uWS does not repeat `Connection: close` to a client that sent it (RFC 9112 §9.6 says SHOULD).
    if (!/^Connection: close/im.test(first))
      t.equal(answer?.headers.get('connection')?.[0]?.toLowerCase(), 'close', `${name}: Connection: close`);
    if (status !== 200) t.ok(JSON.parse(answer!.body), `${name}: a JSON body`);
    t.same(more, [], `${name}, in two packets: the request behind it is never answered`);
    t.ok(apart.closed, `${name}, in two packets: the connection is closed`);
  }
});

t.test(
  'Transfer-Encoding is served only as one final chunked; any other value is a 400, other codings a 501, and each closes.',
  async (t) => {
    const chunkedBody = `${predictBody.length.toString(16)}\r\n${predictBody}\r\n0\r\n\r\n`;
    const post = (headers: string) => request('POST', '/project/bulk-predict', `Content-Type: application/json\r\n${headers}`, chunkedBody);
    const invalid = { detail: 'Invalid Transfer-Encoding: send one header whose only coding is chunked' };
    for (const [headers, status] of [
      ['Transfer-Encoding: chunked\r\n', 200],
      ['Transfer-Encoding: CHUNKED\r\n', 200],
      ['Transfer-Encoding:  Chunked \r\n', 200],
      ['Transfer-Encoding: gzip\r\n', 400],
      ['Transfer-Encoding: xchunked\r\n', 400],
      ['Transfer-Encoding: chunked, identity\r\n', 400],
      ['Transfer-Encoding: chunked, chunked\r\n', 400],
      ['Transfer-Encoding: chunked;q=1\r\n', 400],
      ['Transfer-Encoding: ,chunked\r\n', 400],
      ['Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n', 400],
      ['Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', 400],
      ['Transfer-Encoding: gzip, chunked\r\n', 501],
      ['Transfer-Encoding: br, chunked\r\n', 501],
    ] as const) {
      const name = JSON.stringify(headers);
      const { text, closed } = await exchange([post(headers)], 2_000);
      const [answer, ...more] = responses(text);
      t.equal(answer?.status, status, `${name}: ${status}`);
      if (status === 400) t.same(JSON.parse(answer!.body), invalid, `${name}: the JSON error`);
      if (status === 501) t.match(JSON.parse(answer!.body), { detail: /^Transfer coding not implemented: / }, `${name}: the JSON error`);
      t.same(more, [], `${name}: nothing else`);
      t.ok(closed, `${name}: the connection is closed`);
    }
    // On a route that takes no body too: the framing is checked before any route runs.
    const { text } = await exchange([request('GET', '/project/health', 'Transfer-Encoding: gzip\r\n', '0\r\n\r\n')]);
    t.equal(responses(text)[0]?.status, 400, 'GET with Transfer-Encoding: gzip: 400');
  },
);

// uWS decodes chunks itself and hands the application only their data, so the application cannot refuse a chunk
// line that ends in a bare LF, or a body without its last CRLF (docs/api.md "HTTP framing"). What it can do: close
// the connection after every chunked request, so bytes that a proxy framed otherwise are never read as a request.
t.test(
  'Lenient chunk framing (bare LF, a missing last CRLF) never smuggles a request: a chunked request closes its connection.',
  async (t) => {
    const hex = predictBody.length.toString(16);
    const post = (chunks: string) =>
      request('POST', '/project/bulk-predict', 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n', chunks);
    const smuggled = request('GET', '/project/info');
    for (const [name, chunks] of [
      ['bare LF line ends', `${hex}\n${predictBody}\n0\n\n`],
      ['no CRLF after the last chunk', `${hex}\r\n${predictBody}\r\n0\r\n`],
      ['no CRLF after the data of a chunk', `${hex}\r\n${predictBody}0\r\n\r\n`],
    ] as const) {
      for (const parts of [[post(chunks) + smuggled], [post(chunks), smuggled]]) {
        const { text, closed } = await exchange(parts, 2_000);
        const where = parts.length === 1 ? 'one write' : 'two packets';
        t.notMatch(text, /"model_sha256"/, `${name}, ${where}: the request behind it is never answered`);
        t.ok(closed, `${name}, ${where}: the connection is closed`);
        for (const answer of responses(text)) t.not(answer.status, 500, `${name}, ${where}: no 500`);
      }
    }
  },
);

t.test('Every status line carries its reason phrase, 424 (TEI) included.', async (t) => {
  const rerank = JSON.stringify({ query: 'q', texts: ['a'] });
  const { text } = await exchange(
    [request('POST', '/rerank', `Content-Type: application/json\r\nContent-Length: ${rerank.length}\r\n`, rerank)],
    2_000,
  );
  const [answer] = responses(text);
  t.equal(answer?.status, 424, 'rerank on a two-label model: 424');
  t.equal(answer?.reason, 'Failed Dependency', 'HTTP/1.1 424 Failed Dependency');
  for (const [path, status, reason] of [
    ['/project/nowhere', 404, 'Not Found'],
    ['/project/health', 200, 'OK'],
  ] as const) {
    const [got] = responses((await exchange([request('GET', path)])).text);
    t.equal(got?.status, status, `${path}: ${status}`);
    t.equal(got?.reason, reason, `${path}: ${reason}`);
  }
});

// RFC 9112 §3.2 asks a 400 for a request without Host. uWS answers it itself when the request has other header
// lines, and not at all when it has none (docs/api.md "HTTP framing"): pinned, so a new binary that changes it shows.
t.test('A request without Host: the parser refuses it (400 HTML), or with no header at all leaves it unanswered.', async (t) => {
  const withOthers = await exchange(['GET /project/health HTTP/1.1\r\nAccept: */*\r\n\r\n'], 1_000);
  t.equal(responses(withOthers.text)[0]?.status, 400, 'no Host among other headers: 400');
  t.ok(withOthers.closed, 'and closed');
  const bare = await exchange(['GET /project/health HTTP/1.1\r\n\r\n'], 1_000);
  t.equal(bare.text, '', 'no header at all: no answer');
  const empty = await exchange(['GET /project/health HTTP/1.1\r\nHost:\r\n\r\n'], 1_000);
  t.equal(responses(empty.text)[0]?.status, 200, 'an empty Host (RFC 9112 §3.2 allows it): served');
});
