import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Lifecycle } from '../../lifecycle.js';
import { sendNow } from '../respond.js';

// Kubernetes probes this for startup, readiness and liveness: it answers from memory, synchronously.
const BODIES = {
  ready: '{"status":"healthy"}',
  starting: '{"status":"starting"}',
  draining: '{"status":"draining"}',
} as const;

/** GET <base>/health: 200 once every worker is warm, 503 while starting or draining. */
export function createHealthHandler(lifecycle: Lifecycle): (res: HttpResponse, req: HttpRequest) => void {
  return (res) => sendNow(res, lifecycle.state === 'ready' ? 200 : 503, 'application/json', BODIES[lifecycle.state]);
}
