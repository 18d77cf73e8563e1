// The services the gRPC server serves (besides Health and reflection, which server.ts adds), each built by its
// factory from the deps it needs.
import type { GrpcDeps } from './call.js';
import type { GrpcService } from './grpc-service.js';
import { createOipGrpcService } from '../protocols/oip/grpc-service.js';
import { createTeiGrpcServices } from '../protocols/tei/grpc-services.js';

export function createGrpcServices(deps: GrpcDeps): GrpcService[] {
  return [createOipGrpcService(deps), ...createTeiGrpcServices(deps)];
}
