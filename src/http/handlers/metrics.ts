import type { HttpResponse } from 'uWebSockets.js';
import { Errors } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { RequestContext } from '../request-context.js';
import { send, sendError } from '../respond.js';

/** GET <metricsPath>: the Prometheus text exposition (collection is async, so the answer is corked later). */
export function createMetricsHandler(metrics: Metrics): (res: HttpResponse) => void {
  return (res) => {
    const ctx = new RequestContext(res, '', 0);
    void metrics.exposition().then(
      (text) => send(ctx, 200, metrics.contentType, text),
      () => sendError(ctx, Errors.Internal()),
    );
  };
}
