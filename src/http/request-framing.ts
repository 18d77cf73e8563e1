import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Errors } from '../errors.js';
import { sendNow } from './respond.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

const refused = Errors.AmbiguousFraming();

/**
 * Refuses a request whose body length two parsers could read differently: the uWS parser frames the body by
 * the first Content-Length, a proxy in front may take the last one, and the bytes in between would then be
 * read as a second, smuggled request. uWS itself refuses Content-Length with Transfer-Encoding and a list
 * value ("5, 5"); only repeated headers reach the application, and `getHeader` shows just the first.
 */
export function refuseAmbiguousFraming(handler: Handler): Handler {
  return (res, req) => {
    // Without any Content-Length there is nothing to repeat; this keeps forEach off bodiless GETs.
    if (req.getHeader('content-length') !== '' && isAmbiguous(req)) {
      // The connection is closed: where this body ends is exactly what cannot be known.
      sendNow(res, refused.statusCode, 'application/json', refused.body, [], true);
      return;
    }
    handler(res, req);
  };
}

function isAmbiguous(req: HttpRequest): boolean {
  let lengths = 0;
  let transferEncoding = false;
  req.forEach((name) => {
    if (name === 'content-length') lengths++;
    else if (name === 'transfer-encoding') transferEncoding = true;
  });
  return lengths > 1 || (lengths === 1 && transferEncoding);
}

/** Whether the request declares a body (answers that leave it unread close the connection, not to read it as the next request). */
export function hasBody(req: HttpRequest): boolean {
  return Number(req.getHeader('content-length')) > 0 || req.getHeader('transfer-encoding') !== '';
}
