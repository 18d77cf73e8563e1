import type * as grpc from '@grpc/grpc-js';

/** A service the gRPC server serves: its definition (from protos.ts) and its methods' handlers (through call.ts). */
export interface GrpcService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  /**
   * False when the served model cannot do what the service is for (a classifier's tei.v1.Embed, a tei.v1.Rerank
   * of a model with more than one label): its methods still answer, refusing, and health reports the service
   * NOT_SERVING in every state, as text-embeddings-inference does. Default true.
   */
  readonly serving?: boolean;
}
