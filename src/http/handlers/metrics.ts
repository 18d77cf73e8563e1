import { Errors } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import { errorAnswer } from '../error-answers.js';
import type { RouteHandler } from '../pipeline.js';
import { send, sendJson } from '../respond.js';

/** GET <metricsPath>: the Prometheus text exposition (collection is async, so the answer is corked later). */
export function createMetricsHandler(metrics: Metrics): RouteHandler {
  const failed = errorAnswer(Errors.Internal(), 'bulk-predict');
  return (ctx) => {
    void metrics.exposition().then(
      (text) => send(ctx, 200, metrics.contentType, text),
      () => sendJson(ctx, failed.status, failed.body, failed.headers),
    );
  };
}
