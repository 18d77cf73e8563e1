import { Errors } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RouteHandler } from '../pipeline.js';
import { send, sendError } from '../respond.js';

/** GET <metricsPath>: the Prometheus text exposition (collection is async, so the answer is corked later). */
export function createMetricsHandler(metrics: Metrics): RouteHandler {
  return (ctx) => {
    void metrics.exposition().then(
      (text) => send(ctx, 200, metrics.contentType, text),
      () => sendError(ctx, Errors.Internal()),
    );
  };
}
