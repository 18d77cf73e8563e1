import type { Lifecycle } from '../../lifecycle.js';
import type { RouteHandler } from '../pipeline.js';
import { sendNow } from '../respond.js';

// Kubernetes probes this for startup, readiness and liveness: it answers from memory, synchronously.
const BODIES = {
  ready: '{"status":"healthy"}',
  starting: '{"status":"starting"}',
  draining: '{"status":"draining"}',
} as const;

/** GET <base>/health: 200 once every worker is warm, 503 while starting or draining. */
export function createHealthHandler(lifecycle: Lifecycle): RouteHandler {
  return (ctx) => sendNow(ctx, lifecycle.state === 'ready' ? 200 : 503, 'application/json', BODIES[lifecycle.state]);
}
