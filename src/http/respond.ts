import type { HttpResponse } from 'uWebSockets.js';
import type { HttpError } from '../errors.js';
import type { RequestContext } from './request-context.js';

const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  301: '301 Moved Permanently',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  422: '422 Unprocessable Entity',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
};

export type Headers = readonly (readonly [string, string])[];

/**
 * The only code that writes responses: skips a response whose client left (touching it would crash uWS),
 * and corks, because it is called after async work, so status, headers and body leave in one syscall.
 * `closeConnection` is for answers given before the body was read, and while draining.
 */
export function send(
  ctx: RequestContext,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Headers = [],
  closeConnection = false,
): void {
  if (ctx.aborted || ctx.responded) return;
  ctx.responded = true;
  ctx.res.cork(() => write(ctx.res, status, contentType, body, headers, closeConnection));
}

/**
 * A 200 given inside a uWS callback (a route handler or onData), which uWS has corked, with header lines
 * rendered ahead by headerLines(): for an answer whose headers barely change between requests.
 */
export function sendLinesInCallback(ctx: RequestContext, lines: string, body: string | Uint8Array, closeConnection = false): void {
  if (ctx.aborted || ctx.responded) return;
  ctx.responded = true;
  ctx.res.writeHeader('content-type', lines);
  ctx.res.end(body, closeConnection);
}

export function sendJson(ctx: RequestContext, status: number, body: string, headers: Headers = [], closeConnection = false): void {
  send(ctx, status, 'application/json', body, headers, closeConnection);
}

export function sendError(ctx: RequestContext, error: HttpError, headers: Headers = [], closeConnection = false): void {
  sendJson(ctx, error.statusCode, error.body, [...Object.entries(error.headers), ...headers], closeConnection);
}

/** For synchronous handlers that answer inside the route callback (already corked by uWS). */
export function sendNow(
  res: HttpResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Headers = [],
  closeConnection = false,
): void {
  write(res, status, contentType, body, headers, closeConnection);
}

/**
 * Each call into uWS converts its strings and crosses into native code; on the cached path these writes were
 * a fifth of the JS time (docs/performance.md, bench:cached), so the headers go in one writeHeader call: uWS writes
 * `name: value\r\n` verbatim, and the value here carries the other headers as further lines. Every name and
 * value is the service's own (a client's x-request-id is checked against a pattern without CR or LF first).
 * A 200 needs no writeStatus: uWS writes `200 OK` when none was given.
 */
function write(
  res: HttpResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Headers,
  closeConnection: boolean,
): void {
  if (status !== 200) res.writeStatus(STATUS_LINES[status] ?? String(status));
  res.writeHeader('content-type', headerLines(contentType, headers));
  res.end(body, closeConnection);
}

/** The value of the one writeHeader('content-type', ...) call: the content type, then each header as a line. */
export function headerLines(contentType: string, headers: Headers): string {
  let lines = contentType;
  for (let i = 0; i < headers.length; i++) lines += '\r\n' + headers[i][0] + ': ' + headers[i][1];
  return lines;
}
