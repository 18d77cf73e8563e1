// grpc.health.v1.Health (the standard health protocol, what Kubernetes' native `grpc:` probes and grpc_health_probe
// call): SERVING once every worker is warm, NOT_SERVING while they load and while the service drains, for the
// server as a whole ("") and for each service it serves by name; a service the model cannot serve (GrpcService's
// `serving: false`) is NOT_SERVING always. Answered from memory and outside the call
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

/** A service by name, and whether the model can serve it at all. */
export interface HealthEntry {
  readonly name: string;
  readonly serving: boolean;
}

/** The health of `services` (and of "", the server), following `lifecycle`. */
export function createHealthService(lifecycle: Lifecycle, services: readonly HealthEntry[]): HealthService {
  const servable = new Map<string, boolean>([['', true], ...services.map(({ name, serving }) => [name, serving] as const)]);
  const known = (name: string): boolean => servable.has(name);
  const statusOf = (name: string, state: LifecycleState): ServingStatus =>
    state === 'ready' && servable.get(name) ? 'SERVING' : 'NOT_SERVING';
  const watches = new Set<grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>();
  lifecycle.onStateChange((state) => {
    for (const watch of watches) if (known(watch.request.service)) watch.write({ status: statusOf(watch.request.service, state) });
  });
  const implementation: grpc.UntypedServiceImplementation = {
    Check(call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>): void {
      if (known(call.request.service)) callback(null, { status: statusOf(call.request.service, lifecycle.state) });
      else callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service.slice(0, 200)}` });
    },
    // The protocol: the status at once, then every change; an unknown service is SERVICE_UNKNOWN, and the call stays open.
    Watch(call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>): void {
      watches.add(call);
      call.on('cancelled', () => watches.delete(call));
      call.write({ status: known(call.request.service) ? statusOf(call.request.service, lifecycle.state) : 'SERVICE_UNKNOWN' });
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
