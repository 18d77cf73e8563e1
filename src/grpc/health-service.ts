// grpc.health.v1.Health (the standard health protocol, what Kubernetes' native `grpc:` probes and grpc_health_probe
// call): SERVING once every worker is warm, NOT_SERVING while they load and while the service drains, for the
// server as a whole ("") and for each service it serves by name. Answered from memory and outside the call
// pipeline: a probe sends no API key, and is neither counted nor traced (it is polled every few seconds).
import * as grpc from '@grpc/grpc-js';
import type { Lifecycle, LifecycleState } from '../lifecycle.js';
import { serviceDefinition } from './protos.js';
import type { GrpcService } from './grpc-service.js';

export const HEALTH_PROTO = 'health.proto';
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
interface HealthCheckRequest {
  readonly service: string;
}
interface HealthCheckResponse {
  readonly status: ServingStatus;
}

/** The Health service, and a way to end its Watch streams (at shutdown: they would hold the server open). */
export interface HealthService extends GrpcService {
  endWatches(): void;
}

/** The health of `names` (and of ""), following `lifecycle`. */
export function createHealthService(lifecycle: Lifecycle, names: readonly string[]): HealthService {
  const known = new Set(['', ...names]);
  const statusOf = (state: LifecycleState): ServingStatus => (state === 'ready' ? 'SERVING' : 'NOT_SERVING');
  const watches = new Set<grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();
  lifecycle.onStateChange((state) => {
    const status = statusOf(state);
    for (const watch of watches) if (known.has(watch.request.service)) watch.write({ status });
  });
  const implementation: grpc.UntypedServiceImplementation = {
    Check(call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>): void {
      if (known.has(call.request.service)) callback(null, { status: statusOf(lifecycle.state) });
      else callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service.slice(0, 200)}` });
    },
    // The protocol: the status at once, then every change; an unknown service is SERVICE_UNKNOWN, and the call stays open.
    Watch(call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
      watches.add(call);
      call.on('cancelled', () => watches.delete(call));
      call.write({ status: known.has(call.request.service) ? statusOf(lifecycle.state) : 'SERVICE_UNKNOWN' });
    },
  };
  return {
    definition: serviceDefinition(HEALTH_PROTO, HEALTH_SERVICE_NAME),
    implementation,
    endWatches() {
      for (const watch of watches) watch.end();
      watches.clear();
    },
  };
}
