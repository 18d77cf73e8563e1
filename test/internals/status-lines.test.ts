// RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`. uWS writes whatever writeStatus
// is given after `HTTP/1.1 `, so the service's own table must give every status it can send its space and reason.
import t from 'tap';
import { Errors, HttpError, teiErrorFor } from '../http-errors.js';
import { statusLine } from '../../dist/src/http/respond.js';

const sample = (name: string) => (Errors as Record<string, (...a: never[]) => Error>)[name]('x' as never, 'y' as never);

t.test('every status an error is sent with has a reason phrase', async (t) => {
  const statuses = new Set<number>([200, 301, 404, 405, 499]);
  for (const name of Object.keys(Errors)) {
    const error = sample(name);
    if (!(error instanceof HttpError)) continue;
    statuses.add(error.statusCode);
    statuses.add(teiErrorFor(error).status);
  }
  t.ok(statuses.has(424) && statuses.has(429), 'TEI statuses are among them');
  for (const status of statuses) {
    if (status === 499) continue; // only a metrics label: the client left, nothing is sent
    t.match(statusLine(status), new RegExp(`^${status} [A-Z][A-Za-z -]+$`), `${status}: "${statusLine(status)}"`);
  }
});
