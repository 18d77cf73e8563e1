import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import type { RequestContext } from './request-context.js';

/**
 * `<code> <reason>` for every status a response can carry: RFC 9112 §4 requires the space after the code, and
 * a table of the service's own statuses missed some (424 and 429, TEI's). Node's table has every registered code.
 */
const STATUS_LINES: readonly string[] = Array.from({ length: 600 }, (_, code) => `${code} ${STATUS_CODES[code] ?? 'Unknown'}`);

export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `${status} Unknown`;
}

export type Headers = readonly (readonly [string, string])[];

/** Responses whose connection closes after them whatever the caller asks (request-framing.ts: a chunked body, `Connection: close`). */
const closingResponses = new WeakSet<HttpResponse>();

/** The answer to this request will close its connection. */
export function closeAfterAnswer(res: HttpResponse): void {
  closingResponses.add(res);
}

/**
 * The only code that writes responses: skips a response whose client left (touching it would crash uWS),
 * and corks, because it is called after async work, so status, headers and body leave in one syscall.
 * `closeConnection` is for answers given before the body was read, and while draining. The request's last
 * stage runs once the answer has left (ctx.finish).
 */
export function send(
  ctx: RequestContext,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Headers = [],
  closeConnection = false,
): void {
  if (ctx.aborted) {
    ctx.finish(499);
    return;
  }
  if (ctx.responded) return;
  ctx.responded = true;
  if (closeConnection || closingResponses.has(ctx.res)) endClosing(ctx, status, contentType, body, headers);
  else ctx.res.cork(() => write(ctx, status, contentType, body, headers));
}

/**
 * A 200 given inside a uWS callback (a route handler or onData), which uWS has corked, with header lines
 * rendered ahead by headerLines(): for an answer whose headers barely change between requests.
 */
export function sendLinesInCallback(ctx: RequestContext, lines: string, body: string | Uint8Array, closeConnection = false): void {
  if (ctx.aborted) {
    ctx.finish(499);
    return;
  }
  if (ctx.responded) return;
  ctx.responded = true;
  if (closeConnection || closingResponses.has(ctx.res)) {
    endClosing(ctx, 200, lines, body, []);
    return;
  }
  ctx.res.writeHeader('content-type', lines);
  end(ctx, 200, body);
}

export function sendJson(ctx: RequestContext, status: number, body: string, headers: Headers = [], closeConnection = false): void {
  send(ctx, status, 'application/json', body, headers, closeConnection);
}

/** For synchronous handlers that answer inside the route callback (already corked by uWS). */
export function sendNow(
  ctx: RequestContext,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Headers = [],
  closeConnection = false,
): void {
  if (ctx.responded) return;
  ctx.responded = true;
  // An answer that closes the connection leaves after the handler returns; the context's abort handler covers that.
  if (closeConnection || closingResponses.has(ctx.res)) endClosing(ctx, status, contentType, body, headers);
  else write(ctx, status, contentType, body, headers);
}

/**
 * An answer that closes the connection leaves in a later turn of the event loop, never from inside a uWS
 * callback. uWS parses every request it has read from a socket in one go, calling a handler for each; one
 * that answered `end(body, true)` inside its callback has its close forgotten as the parser starts the next
 * request in the same read, which is then served: a request smuggled behind an answer that said
 * `Connection: close` (CL.CL behind a proxy that frames by the last Content-Length). Left pending until the
 * read is parsed, the answer makes uWS close the connection at the next buffered request instead (it refuses
 * pipelining behind a pending response), and nothing after it is read.
 */
function endClosing(ctx: RequestContext, status: number, contentType: string, body: string | Uint8Array, headers: Headers): void {
  setImmediate(() => {
    if (ctx.aborted) {
      ctx.finish(499);
      return;
    }
    ctx.res.cork(() => {
      writeHead(ctx.res, status, contentType, headers);
      ctx.res.end(body, true);
    });
    ctx.finish(status);
  });
}

/**
 * Each call into uWS converts its strings and crosses into native code; on the cached path these writes were
 * a fifth of the JS time (docs/performance.md, bench:cached), so the headers go in one writeHeader call: uWS writes
 * `name: value\r\n` verbatim, and the value here carries the other headers as further lines. Every name and
 * value is the service's own (a client's x-request-id is checked against a pattern without CR or LF first).
 * A 200 needs no writeStatus: uWS writes `200 OK` when none was given.
 */
function write(ctx: RequestContext, status: number, contentType: string, body: string | Uint8Array, headers: Headers): void {
  writeHead(ctx.res, status, contentType, headers);
  end(ctx, status, body);
}

function writeHead(res: HttpResponse, status: number, contentType: string, headers: Headers): void {
  if (status !== 200) res.writeStatus(statusLine(status));
  res.writeHeader('content-type', headerLines(contentType, headers));
}

/**
 * Bodies from this size on are sent with tryEnd, so that the request stays in flight (and a drain waits for it)
 * until uWS has handed its last byte to the kernel: one given to `end` whole would wait in uWS's own buffer
 * for a slow reader, where closing the server at the end of a drain would cut it off. Smaller bodies fit the
 * socket's buffer at once, and keep the one `end` call of the hot path.
 */
const LARGE_BODY_BYTES = 64 * 1024;

function end(ctx: RequestContext, status: number, body: string | Uint8Array): void {
  const res = ctx.res;
  // A UTF-16 unit is at most 3 bytes of UTF-8: a shorter string is under the size without being measured.
  const bytes = typeof body === 'string' && body.length * 3 >= LARGE_BODY_BYTES ? Buffer.from(body) : body;
  if (typeof bytes === 'string' || bytes.byteLength < LARGE_BODY_BYTES) {
    res.end(bytes);
    ctx.finish(status);
    return;
  }
  const total = bytes.byteLength;
  if (res.tryEnd(bytes, total)[1]) {
    ctx.finish(status);
    return;
  }
  // The rest leaves as the client reads; the context's abort handler finishes the request if it leaves first.
  res.onWritable((offset) => {
    const [ok, done] = res.tryEnd(bytes.subarray(offset), total);
    if (done) ctx.finish(status);
    return ok;
  });
}

/** The value of the one writeHeader('content-type', ...) call: the content type, then each header as a line. */
export function headerLines(contentType: string, headers: Headers): string {
  let lines = contentType;
  for (let i = 0; i < headers.length; i++) lines += '\r\n' + headers[i][0] + ': ' + headers[i][1];
  return lines;
}
