import type * as grpc from '@grpc/grpc-js';

/** A service the gRPC server serves: its definition (from protos.ts) and its methods' handlers (through call.ts). */
export interface GrpcService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}
