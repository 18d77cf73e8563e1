import type { HttpResponse } from 'uWebSockets.js';
import type { HttpError } from '../errors.js';
import type { RequestContext } from './request-context.js';

const STATUS_LINES: Record<number, string> = {
  200: '200 OK', 301: '301 Moved Permanently', 400: '400 Bad Request', 404: '404 Not Found', 405: '405 Method Not Allowed', 413: '413 Payload Too Large',
  415: '415 Unsupported Media Type', 422: '422 Unprocessable Entity', 500: '500 Internal Server Error',
  503: '503 Service Unavailable', 504: '504 Gateway Timeout',
};

export type Headers = readonly (readonly [string, string])[];

/**
 * The only code that writes responses: skips a response whose client left (touching it would crash uWS),
 * and corks, because it is called after async work, so status, headers and body leave in one syscall.
 * `closeConnection` is for answers given before the body was read, and while draining.
 */
export function send(ctx: RequestContext, status: number, contentType: string, body: string | Uint8Array, headers: Headers = [], closeConnection = false): void {
  if (ctx.aborted || ctx.responded) return;
  ctx.responded = true;
  ctx.res.cork(() => write(ctx.res, status, contentType, body, headers, closeConnection));
}

export function sendJson(ctx: RequestContext, status: number, body: string, headers: Headers = [], closeConnection = false): void {
  send(ctx, status, 'application/json', body, headers, closeConnection);
}

export function sendError(ctx: RequestContext, error: HttpError, headers: Headers = [], closeConnection = false): void {
  sendJson(ctx, error.statusCode, error.body, [...Object.entries(error.headers), ...headers], closeConnection);
}

/** For synchronous handlers that answer inside the route callback (already corked by uWS). */
export function sendNow(res: HttpResponse, status: number, contentType: string, body: string | Uint8Array, headers: Headers = [], closeConnection = false): void {
  write(res, status, contentType, body, headers, closeConnection);
}

function write(res: HttpResponse, status: number, contentType: string, body: string | Uint8Array, headers: Headers, closeConnection: boolean): void {
  res.writeStatus(STATUS_LINES[status] ?? String(status));
  res.writeHeader('content-type', contentType);
  for (const [name, value] of headers) res.writeHeader(name, value);
  res.end(body, closeConnection);
}
