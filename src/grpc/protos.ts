// The gRPC services' wire contracts, loaded at start-up from the .proto files in schemas/grpc/ (the same files the
// tests generate their clients from, and that the image ships), and kept for server reflection.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { packageRoot } from '../../model/paths.js';

export const PROTO_DIR = join(packageRoot, 'schemas', 'grpc');

/**
 * Messages as plain objects with the proto's own (snake_case) field names, int64 as numbers (a tensor's shape,
 * TEI's nanosecond timings: far below 2^53), enums by name, absent fields at their defaults, and a oneof's
 * chosen field named in its own property.
 */
export const PROTO_LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

const loaded = new Map<string, PackageDefinition>();

/** `schemas/grpc/<fileName>`'s packages; loaded once per file. */
export function loadProto(fileName: string): grpc.GrpcObject {
  let definition = loaded.get(fileName);
  if (definition === undefined) {
    definition = loadSync(join(PROTO_DIR, fileName), { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
    loaded.set(fileName, definition);
  }
  return grpc.loadPackageDefinition(definition);
}

/** Every definition loadProto has loaded, as one: what server reflection describes. */
export function loadedDefinitions(): PackageDefinition {
  return Object.assign({}, ...loaded.values());
}

/** The service `name` (package-qualified, e.g. `inference.GRPCInferenceService`) of a loaded proto. */
export function serviceDefinition(fileName: string, name: string): grpc.ServiceDefinition {
  let node: unknown = loadProto(fileName);
  for (const part of name.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  const service = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (service === undefined) throw new Error(`${fileName} defines no service ${name}`);
  return service;
}
