import { Errors } from '../errors.js';
import type { RequestContext } from './request-context.js';

/**
 * Reads the whole body, refusing it as soon as it passes `maxBytes`, and calls `onBody` from uWS's last onData
 * callback, where the socket is corked: an answer known at once (a memoized one) leaves without waiting for a
 * promise or a cork() of its own. Chunks are copied because uWS neuters each ArrayBuffer when onData returns;
 * a copy into a pooled Buffer costs far less than ArrayBuffer.slice, which allocates a backing store that the
 * garbage collector then has to track. Several chunks are joined once at the end (no quadratic concatenation).
 */
export function readBody(ctx: RequestContext, maxBytes: number, onBody: (body: Buffer) => void, onError: (err: Error) => void): void {
  let chunks: Buffer[] | undefined;
  let length = 0;
  let done = false;
  ctx.onAbort(() => {
    if (done) return;
    done = true;
    onError(new Error('client aborted while sending the body'));
  });
  ctx.res.onData((chunk, isLast) => {
    if (done) return;
    length += chunk.byteLength;
    if (length > maxBytes) {
      done = true;
      onError(Errors.BodyTooLarge(maxBytes));
      return;
    }
    const copy = Buffer.from(new Uint8Array(chunk));
    if (!isLast) {
      (chunks ??= []).push(copy);
      return;
    }
    done = true;
    if (chunks === undefined) {
      onBody(copy);
    } else {
      chunks.push(copy);
      onBody(Buffer.concat(chunks, length));
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
