import type { HttpResponse } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import { RequestContext } from '../request-context.js';
import { send } from '../respond.js';

/** GET <metricsPath>: the Prometheus text exposition (collection is async, so the answer is corked later). */
export function createMetricsHandler(registry: Registry): (res: HttpResponse) => void {
  return (res) => {
    const ctx = new RequestContext(res, '', 0);
    void registry.metrics().then(
      (text) => send(ctx, 200, registry.contentType, text),
      () => send(ctx, 500, 'application/json', '{"detail":"Internal Server Error"}'),
    );
  };
}
