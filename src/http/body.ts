import { Errors } from '../errors.js';
import type { RequestContext } from './request-context.js';

/**
 * Reads the whole body, refusing it as soon as it passes `maxBytes`, and calls `onBody` from uWS's last onData
 * callback, where the socket is corked: an answer known at once (a memoized one) leaves without waiting for a
 * promise or a cork() of its own. The callbacks take the request, so a handler can make them once, not per
 * request.
 *
 * `body` is valid only during that call. A body that came in one chunk (the usual case) is a view of uWS's
 * receive buffer, which uWS detaches when onData returns: copying it would allocate a Buffer per request
 * that the memo key and the parser (both copy what they keep, into strings) do not need. Bodies in several
 * chunks are copied chunk by chunk and joined once at the end (no quadratic concatenation).
 */
export function readBody(
  ctx: RequestContext,
  maxBytes: number,
  onBody: (ctx: RequestContext, body: Buffer) => void,
  onError: (ctx: RequestContext, err: Error) => void,
): void {
  let chunks: Buffer[] | undefined;
  let length = 0;
  let done = false;
  ctx.onAbort(() => {
    if (done) return;
    done = true;
    onError(ctx, new Error('client aborted while sending the body'));
  });
  ctx.res.onData((chunk, isLast) => {
    if (done) return;
    length += chunk.byteLength;
    if (length > maxBytes) {
      done = true;
      onError(ctx, Errors.BodyTooLarge(maxBytes));
      return;
    }
    if (!isLast) {
      (chunks ??= []).push(Buffer.from(new Uint8Array(chunk)));
      return;
    }
    done = true;
    if (chunks === undefined) {
      onBody(ctx, Buffer.from(chunk));
    } else {
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      onBody(ctx, Buffer.concat(chunks, length));
    }
  });
}

/**
 * Reads and drops the rest of a body. Answering before the client has sent it all and then closing makes the
 * kernel reset the connection, and the client sees the reset instead of the answer; draining first lets it
 * read a clean 413.
 */
export function drainBody(ctx: RequestContext): Promise<void> {
  return new Promise((resolve) => {
    ctx.onAbort(resolve);
    ctx.res.onData((_chunk, isLast) => {
      if (isLast) resolve();
    });
  });
}
