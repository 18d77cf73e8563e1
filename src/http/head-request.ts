import type { HttpResponse } from 'uWebSockets.js';

/** What uWS' `end` takes. */
type Body = string | ArrayBuffer | ArrayBufferView;

/**
 * HEAD as Starlette answers it on every GET route (load balancers probe health with it): the GET handler
 * runs as it is, and its response goes out with the same status and headers, Content-Length included, and
 * no body. uWS itself would send the body (`end`), and its `endWithoutBody(length)` waits for body bytes
 * that never come; so the length is written as a header and the response ends without one.
 */
/** `res` with `end` replaced; every other call goes to `res`, and calls that return `res` return the wrapper. */
export function withoutBody(res: HttpResponse): HttpResponse {
  const wrapper: HttpResponse = new Proxy(res, {
    get(target, property) {
      if (property === 'end') {
        return (body: Body = '', closeConnection = false) => {
          if (closeConnection) {
            // Writes `Connection: close` and the length; uWS then holds the response open for body bytes that
            // never come, so it serves nothing more on this connection (a next request closes it), and the
            // client, told to close, does.
            target.endWithoutBody(byteLength(body), true);
            return wrapper;
          }
          target.writeHeader('content-length', String(byteLength(body)));
          target.endWithoutBody();
          return wrapper;
        };
      }
      // A large body is sent with tryEnd (respond.ts); without a body it is all sent at once.
      if (property === 'tryEnd') {
        return (_body: Body, totalSize: number): [boolean, boolean] => {
          target.writeHeader('content-length', String(totalSize));
          target.endWithoutBody();
          return [true, true];
        };
      }
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return result === target ? wrapper : result;
      };
    },
  });
  return wrapper;
}

function byteLength(body: Body): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  return body.byteLength;
}
