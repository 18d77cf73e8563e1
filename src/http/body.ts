import { Errors } from '../errors.js';
import type { RequestContext } from './request-context.js';

/**
 * Reads the whole body, refusing it as soon as it passes `maxBytes`. Chunks are copied because uWS neuters
 * each ArrayBuffer when onData returns; they are joined once at the end (no quadratic concatenation).
 */
export function readBody(ctx: RequestContext, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let length = 0;
    let done = false;
    ctx.onAbort(() => {
      done = true;
      reject(new Error('client aborted while sending the body'));
    });
    ctx.res.onData((chunk, isLast) => {
      if (done) return;
      length += chunk.byteLength;
      if (length > maxBytes) {
        done = true;
        reject(Errors.BodyTooLarge(maxBytes));
        return;
      }
      chunks.push(new Uint8Array(chunk.slice(0)));
      if (!isLast) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
    });
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
