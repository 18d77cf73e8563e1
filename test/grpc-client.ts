// gRPC clients for the tests, generated at run time by @grpc/proto-loader from the service's own schemas/grpc/*.proto
// (with the options the service loads them with, so messages have the proto's field names), and calls that
// resolve to what came back, an error included, so tests assert on status codes as on HTTP statuses.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { repoRoot } from './helper.js';

export const PROTO_DIR = join(repoRoot, 'schemas', 'grpc');
const OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

// any: the clients' methods are generated from the protos at run time.
export type GrpcClient = grpc.Client & Record<string, any>;

/** A client of `service` (package-qualified) from `protoFile` (in schemas/grpc/, or an absolute path) on 127.0.0.1:`port`. */
export function grpcClient(protoFile: string, service: string, port: number): GrpcClient {
  const file = protoFile.startsWith('/') ? protoFile : join(PROTO_DIR, protoFile);
  let node: any = grpc.loadPackageDefinition(loadSync(file, { ...OPTIONS, includeDirs: [PROTO_DIR] }));
  for (const part of service.split('.')) node = node[part];
  return new node(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as GrpcClient;
}

export interface UnaryResult<Res> {
  /** The answer, when the call succeeded. */
  // any: tests read fields of whatever the service answered
  readonly value?: Res;
  /** The status, when it failed. */
  readonly error?: grpc.ServiceError;
  /** The answer's initial metadata (a failed call's trailers are error.metadata). */
  readonly metadata?: grpc.Metadata;
}

export interface CallOptions {
  readonly metadata?: Record<string, string>;
  /** ms from now. */
  readonly deadlineMs?: number;
}

/** One unary call, resolved with its answer or its error, never rejected. */
export function unary<Res = any>(
  client: GrpcClient,
  method: string,
  request: unknown,
  options: CallOptions = {},
): Promise<UnaryResult<Res>> {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve) => {
    let initial: grpc.Metadata | undefined;
    const call = client[method](request, metadata, callOptions, (error: grpc.ServiceError | null, value: Res) =>
      resolve(error ? { error, metadata: initial } : { value, metadata: initial }),
    );
    call.on('metadata', (m: grpc.Metadata) => {
      initial = m;
    });
  });
}
