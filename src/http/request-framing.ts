import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Errors, type RequestError } from '../errors.js';
import { errorAnswer } from './error-answers.js';
import { RequestContext } from './request-context.js';
import { closeAfterAnswer, sendNow } from './respond.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

const CLOSE_OPTION = /(^|,)\s*close\s*(,|$)/i;

/**
 * Framing by RFC 9112 §6, for what the uWS parser lets through to the application: a body is framed by one
 * Content-Length, or by Transfer-Encoding whose only coding is `chunked`. Anything else is refused before the
 * route runs, and the refusal closes the connection, since where the body ends is what cannot be known.
 *
 * uWS itself refuses Content-Length with Transfer-Encoding and a list value ("5, 5"); repeated headers reach the
 * application, and `getHeader` shows just the first. Its chunk parser is lenient (a bare LF ends a chunk-size
 * line, the two bytes after a chunk's data are skipped unread) and the application sees only the decoded body,
 * so it cannot refuse such chunks; instead every chunked request's answer closes the connection, and whatever a
 * proxy and uWS framed differently after such a body is never read as a request.
 */
export function checkFraming(handler: Handler): Handler {
  return (res, req) => {
    const encoded = req.getHeader('transfer-encoding') !== '';
    // Without either header there is nothing to check; this keeps forEach off bodiless GETs.
    if (encoded || req.getHeader('content-length') !== '') {
      const refusal = framingError(req);
      if (refusal) {
        // Before the route's pipeline: a request whose end is unknown is no route's (docs/architecture.md).
        const { status, body } = errorAnswer(refusal, 'bulk-predict');
        sendNow(new RequestContext(res, '', 0), status, 'application/json', body, [], true);
        return;
      }
      // Valid now, so `chunked` alone.
      if (encoded) closeAfterAnswer(res);
    }
    // RFC 9112 §9.6: after a request that says `close`, no further request on the connection is processed.
    const connection = req.getHeader('connection');
    if (connection !== '' && CLOSE_OPTION.test(connection)) closeAfterAnswer(res);
    handler(res, req);
  };
}

function framingError(req: HttpRequest): RequestError | undefined {
  let lengths = 0;
  let encodings = 0;
  let encoding = '';
  req.forEach((name, value) => {
    if (name === 'content-length') lengths++;
    else if (name === 'transfer-encoding') {
      encodings++;
      encoding = value;
    }
  });
  if (lengths > 1 || (lengths === 1 && encodings > 0)) return Errors.AmbiguousFraming();
  if (encodings === 0) return undefined;
  if (encodings > 1) return Errors.TransferEncoding();
  return transferCodingError(encoding);
}

/**
 * A Transfer-Encoding value: `chunked` alone (any case) is served; a final coding other than `chunked` leaves
 * the body's end unknown (400, RFC 9112 §6.3); `chunked` after other codings asks for codings this server does
 * not implement (501, §6.1).
 */
function transferCodingError(value: string): RequestError | undefined {
  const codings = value.split(',').map((coding) => coding.trim().toLowerCase());
  const chunked = codings.filter((coding) => coding === 'chunked').length;
  if (codings.length === 1 && chunked === 1) return undefined;
  if (codings[codings.length - 1] !== 'chunked' || chunked > 1 || codings.includes('')) return Errors.TransferEncoding();
  return Errors.TransferCodingNotImplemented(codings.slice(0, -1).join(', '));
}

/** Whether the request declares a body (answers that leave it unread close the connection, not to read it as the next request). */
export function hasBody(req: HttpRequest): boolean {
  return Number(req.getHeader('content-length')) > 0 || req.getHeader('transfer-encoding') !== '';
}
