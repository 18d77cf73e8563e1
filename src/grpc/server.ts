// The gRPC edge, the twin of the HTTP edge (src/http/app.ts) over the same Predictor: one grpc-js server on
// GRPC_PORT with the given services, grpc.health.v1.Health and server reflection (so grpcurl works without the
// protos). Started after the HTTP listener; stopped by the service's shutdown once the calls in flight are done.
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Config } from '../config.js';
import { Errors } from '../errors.js';
import type { Lifecycle } from '../lifecycle.js';
import type { GrpcService } from './grpc-service.js';
import { createHealthService } from './health-service.js';
import { loadedDefinitions } from './protos.js';

export type { GrpcService } from './grpc-service.js';

export interface GrpcServer {
  /** The bound port. */
  readonly port: number;
  /**
   * Ends the health Watch streams, lets the answers of finished calls leave (up to `graceMs`), then closes every
   * connection. Called once no call is in flight (the lifecycle's drain): until then the server stays open, so
   * health can say NOT_SERVING and new calls are refused UNAVAILABLE rather than failing to connect.
   */
  stop(graceMs: number): Promise<void>;
}

/** The package-qualified name of a service (`inference.GRPCInferenceService`), from its methods' paths. */
export function serviceName(definition: grpc.ServiceDefinition): string {
  const [first] = Object.values(definition);
  return first.path.slice(1, first.path.lastIndexOf('/'));
}

/**
 * Serves `services`, Health and reflection on `config.host`:`config.grpcPort`. A port that cannot be bound stops
 * the start (INF_ERR_LISTEN), as the HTTP port does.
 */
export async function startGrpcServer(
  config: Pick<Config, 'host' | 'grpcPort' | 'grpcMaxMessageBytes' | 'grpcMaxConcurrentStreams'>,
  lifecycle: Lifecycle,
  services: readonly GrpcService[],
): Promise<GrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.grpcMaxMessageBytes,
    'grpc.max_send_message_length': -1,
    'grpc.max_concurrent_streams': config.grpcMaxConcurrentStreams,
  });
  for (const { definition, implementation } of services) server.addService(definition, implementation);
  const health = createHealthService(
    lifecycle,
    services.map((s) => ({ name: serviceName(s.definition), serving: s.serving !== false })),
  );
  server.addService(health.definition, health.implementation);
  // Every proto loaded so far (the services' and Health's), so reflection lists them all.
  new ReflectionService(loadedDefinitions()).addToServer(server);

  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${config.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(Errors.Listen(config.host, config.grpcPort)) : resolve(bound),
    );
  });
  return {
    port,
    stop(graceMs) {
      health.endWatches();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
