// A lean gRPC client for load: unary calls written straight onto one HTTP/2 session (node:http2, nghttp2 in C++),
// the request message serialized by the proto's own serializer and the answer's body discarded, its grpc-status
// read. grpc-js's client costs the load generator several times the server's CPU per call, so on a machine of
// two cores a benchmark driven by it measures the client; this one costs about what an HTTP/1.1 client does,
// as a C++ or Go gRPC client would.
import { connect, type ClientHttp2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { PROTO_DIR, PROTO_LOADER_OPTIONS } from '../../src/grpc/protos.js';

/** A call's failure, with the status code the server answered (or UNKNOWN when none came). */
export class GrpcCallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A lean caller of the unary methods of `service` (package-qualified) from schemas/grpc/`protoFile`. */
export interface LeanGrpcClient {
  /** One unary call: resolves on status OK, rejects with GrpcCallError otherwise. */
  call(method: string, request: object): Promise<void>;
  close(): void;
}

/** The methods of `service` (package-qualified) from schemas/grpc/`protoFile`, with their serializers. */
export function serviceDefinition(protoFile: string, service: string): grpc.ServiceDefinition {
  let node: unknown = grpc.loadPackageDefinition(
    loadSync(join(PROTO_DIR, protoFile), { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_DIR] }),
  );
  for (const part of service.split('.')) node = (node as Record<string, unknown>)[part];
  return (node as { service: grpc.ServiceDefinition }).service;
}

export function leanGrpcClient(protoFile: string, service: string, port: number): LeanGrpcClient {
  const definition = serviceDefinition(protoFile, service);
  const session: ClientHttp2Session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return {
    call(method, request) {
      const { path, requestSerialize } = definition[method]!;
      const message = requestSerialize(request);
      // The gRPC frame: not compressed, the message's length (big-endian), the message.
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      message.copy(frame, 5);
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
        let status: string | undefined;
        let detail = '';
        const read = (headers: Record<string, unknown>): void => {
          if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
          if (headers['grpc-message'] !== undefined) detail = decodeURIComponent(String(headers['grpc-message']));
        };
        // A trailers-only answer (an error) carries its status in the response headers.
        stream.on('response', read);
        stream.on('trailers', read);
        stream.on('data', () => {});
        stream.on('close', () => {
          if (status === '0') resolve();
          else reject(new GrpcCallError(status === undefined ? grpc.status.UNKNOWN : Number(status), detail || `${method} failed`));
        });
        stream.on('error', () => {});
        stream.end(frame);
      });
    },
    close: () => session.close(),
  };
}
