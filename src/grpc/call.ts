// The gRPC request pipeline, the twin of src/http/pipeline.ts and inference-route.ts: every method of every service
// (but Health and reflection, which answer from memory at any time) is wrapped here, once, so no method can miss a
// stage:
//
//   begin     request id (the client's `x-request-id` metadata when usable, else a new one), in flight for the
//             drain (lifecycle.ts), the SERVER span from `traceparent` metadata, the deadline (the client's, capped
//             by REQUEST_TIMEOUT_MS), abort when the client cancels
//   admit     the API key (`authorization: Bearer <key>` metadata) when API_KEY_ROUTES protects the method's group;
//             a prediction method is refused UNAVAILABLE while the workers load and while the service drains
//   work      the method's own: a promise of its answer, or a thrown error
//   finish    out of flight, inf_grpc_requests_total and its duration by method and code, the `rpc` log line at
//             the level of its code, the span's end; an error's status from status-codes.ts
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ApiKeyRouteGroup } from '../api-key-source.js';
import type { Config, EdgeSettings } from '../config.js';
import { Errors, type RequestError } from '../errors.js';
import type { ApiKeyGuard } from '../http/api-keys.js';
import { failureReasonOf } from '../http/error-answers.js';
import { requestIdOf } from '../http/request-id.js';
import type { ModelLookup } from '../model-repository/model-repository.js';
import type { RequestScope } from '../inference/predictor.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestTrace, Tracing } from '../observability/tracing.js';
import { type GrpcFailure, GrpcStatusError, grpcFailureOf, STATUS_NAMES } from './status-codes.js';

/** What the gRPC services and their pipeline need: the same parts the HTTP edge is built from (service.ts). */
export interface GrpcDeps extends GrpcPipelineDeps {
  readonly config: EdgeSettings;
  /** The service's version (package.json). */
  readonly version: string;
  /** The served models by name: the Open Inference Protocol's model_name; the default for tei.v1. */
  readonly models: ModelLookup;
}

/** What the pipeline itself needs of GrpcDeps. */
export interface GrpcPipelineDeps {
  readonly config: Pick<Config, 'requestTimeoutMs'>;
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly tracing: Tracing;
  /** Undefined when no API keys are configured (api-keys.ts). */
  readonly apiKeys: ApiKeyGuard | undefined;
  /** New request ids, for calls that bring none (request-id.ts). */
  readonly requestIds: () => string;
}

/** What a method's work gets besides its request: the predictor's scope, the request id and the call's metadata. */
export interface GrpcCallScope extends RequestScope {
  /** The `x-request-id` metadata when it is a usable one, else a new id. */
  readonly requestId: string;
  readonly metadata: grpc.Metadata;
}

export interface GrpcCallOptions {
  /**
   * The method's group of API_KEY_ROUTES (default `predict`, what runs the model). A `predict` method is refused
   * UNAVAILABLE while the workers load and while the service drains; the others (health, metadata) are answered
   * from memory in every state. A `health` method is not traced: polled every few seconds, its spans would fill
   * the trace store and say nothing (as the HTTP probes).
   */
  readonly group?: ApiKeyRouteGroup;
}

/** The metadata key of the request id, sent back in the answer's initial metadata (or an error's trailers). */
export const REQUEST_ID_KEY = 'x-request-id';

/** Most messages of one stream being worked on at once; past it the stream is read no further until one is answered. */
export const STREAM_MAX_IN_FLIGHT = 32;

const DRAINING = new GrpcStatusError(grpc.status.UNAVAILABLE, 'Server is shutting down');
/**
 * The codes that are the service's own failure, logged at `error` and marking the span failed (OpenTelemetry's RPC
 * conventions for a gRPC SERVER span); the rest are the client's.
 */
const SERVER_CODES = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/** A unary method through the pipeline. */
export function unaryCall<Req, Res>(
  deps: GrpcPipelineDeps,
  method: string,
  work: (request: Req, scope: GrpcCallScope) => Promise<Res>,
  options: GrpcCallOptions = {},
): grpc.handleUnaryCall<Req, Res> {
  const start = createStart(deps, method, work, options);
  return (call, callback) => answerOnce(call, callback, start(call.request, call.metadata, call.getDeadline()));
}

/**
 * A client-streaming method through the pipeline (TEI's RerankStream): one call, admitted once, whose `work` reads
 * the request messages as they arrive and gives one answer. It may refuse before reading any; a client that
 * cancels ends the reading (grpc-js destroys the stream).
 */
export function clientStreamCall<Req, Res>(
  deps: GrpcPipelineDeps,
  method: string,
  work: (requests: AsyncIterable<Req>, scope: GrpcCallScope) => Promise<Res>,
  options: GrpcCallOptions = {},
): grpc.handleClientStreamingCall<Req, Res> {
  const start = createStart(deps, method, work, options);
  return (call, callback) => answerOnce(call, callback, start(call, call.metadata, call.getDeadline()));
}

/** The last stages of a call with one answer (unary or client-streaming): answered or failed, then finished once. */
function answerOnce<Res>(
  call: grpc.ServerUnaryCall<unknown, Res> | grpc.ServerReadableStream<unknown, Res>,
  callback: grpc.sendUnaryData<Res>,
  { scope, answer }: { scope: CallScope; answer: Promise<Res> },
): void {
  call.on('cancelled', () => scope.abort());
  answer.then(
    (response) => {
      if (scope.gone) return scope.finishAborted();
      call.sendMetadata(scope.answerMetadata());
      callback(null, response);
      scope.finish(grpc.status.OK);
    },
    (err: unknown) => {
      if (scope.gone) return scope.finishAborted();
      const failure = grpcFailureOf(err);
      callback(scope.statusOf(failure));
      scope.finish(failure.code, failure, err);
    },
  );
}

/**
 * A bidirectional streaming method through the pipeline (TEI's *Stream methods): each request message is one
 * `work`, with its own request id, admission, deadline, metrics and log line, answered in the order the requests
 * came; at most STREAM_MAX_IN_FLIGHT at once. A message that fails ends the stream with its status, after the
 * answers of the messages before it; the messages after it are withdrawn.
 */
export function streamCall<Req, Res>(
  deps: GrpcPipelineDeps,
  method: string,
  work: (request: Req, scope: GrpcCallScope) => Promise<Res>,
  options: GrpcCallOptions = {},
): grpc.handleBidiStreamingCall<Req, Res> {
  const start = createStart(deps, method, work, options);
  return (stream) => {
    const pending: { scope: CallScope; outcome: Promise<{ response: Res } | { err: unknown }> }[] = [];
    let inputEnded = false;
    let ended = false;
    let pumping = false;
    const end = (failure?: GrpcFailure, scope?: CallScope): void => {
      ended = true;
      // The messages after a failed one are withdrawn (their texts leave the queue) and counted as cancelled.
      for (const rest of pending.splice(0)) {
        rest.scope.abort();
        rest.scope.finish(grpc.status.CANCELLED);
      }
      if (failure && scope) stream.emit('error', scope.statusOf(failure));
      else stream.end();
    };
    const pump = async (): Promise<void> => {
      if (pumping) return;
      pumping = true;
      while (pending.length > 0 && !ended) {
        const { scope, outcome } = pending[0];
        const result = await outcome;
        if (ended) break;
        pending.shift();
        if (stream.cancelled || scope.gone) {
          scope.finishAborted();
        } else if ('response' in result) {
          stream.write(result.response);
          scope.finish(grpc.status.OK);
        } else {
          const failure = grpcFailureOf(result.err);
          scope.finish(failure.code, failure, result.err);
          end(failure, scope);
        }
        if (pending.length < STREAM_MAX_IN_FLIGHT) stream.resume();
      }
      pumping = false;
      if (inputEnded && pending.length === 0 && !ended) end();
    };
    stream.on('cancelled', () => {
      for (const { scope } of pending) scope.abort();
    });
    stream.on('data', (request: Req) => {
      if (ended) return;
      const { scope, answer } = start(request, stream.metadata, stream.getDeadline());
      const outcome = answer.then(
        (response) => ({ response }),
        (err: unknown) => ({ err }),
      );
      pending.push({ scope, outcome });
      if (pending.length >= STREAM_MAX_IN_FLIGHT) stream.pause();
      void pump();
    });
    stream.on('end', () => {
      inputEnded = true;
      void pump();
    });
  };
}

/** The first stages of a call (or of a stream's message): its scope, then its admission, then its work. */
function createStart<Req, Res>(
  deps: GrpcPipelineDeps,
  method: string,
  work: (request: Req, scope: GrpcCallScope) => Promise<Res>,
  options: GrpcCallOptions,
): (request: Req, metadata: grpc.Metadata, deadline: grpc.Deadline) => { scope: CallScope; answer: Promise<Res> } {
  const group = options.group ?? 'predict';
  const admit = createAdmission(deps, group);
  const traced = deps.tracing.enabled && group !== 'health';
  return (request, metadata, deadline) => {
    const scope = new CallScope(deps, method, traced, metadata, deadline);
    const refusal = admit(scope);
    if (refusal) return { scope, answer: Promise.reject(refusal) };
    try {
      return { scope, answer: work(request, scope) };
    } catch (err) {
      // A work that throws before returning its promise.
      return { scope, answer: Promise.reject(err) };
    }
  };
}

/** The refusal of a call before its work, if any: the API key first (a client without one learns nothing else), then the lifecycle. */
function createAdmission(
  deps: GrpcPipelineDeps,
  group: ApiKeyRouteGroup,
): (scope: GrpcCallScope) => RequestError | GrpcStatusError | undefined {
  const apiKeys = deps.apiKeys?.protects(group) ? deps.apiKeys : undefined;
  const { lifecycle } = deps;
  const notReady = Errors.NotReady();
  const gated = group === 'predict';
  return (scope) => {
    const keyRefusal = apiKeys?.check(metadataString(scope.metadata, 'authorization'));
    if (keyRefusal) return keyRefusal;
    if (!gated) return undefined;
    if (lifecycle.state === 'starting') return notReady;
    if (lifecycle.state === 'draining') return DRAINING;
    return undefined;
  };
}

/** A metadata key's first value as text ('' when absent or binary). */
export function metadataString(metadata: grpc.Metadata, key: string): string {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/** Milliseconds from now until a gRPC deadline (Infinity when the client set none). */
function msUntil(deadline: grpc.Deadline): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return at === Infinity ? Infinity : at - Date.now();
}

/** One call's (or one stream message's) state from its arrival to its last stage. */
class CallScope implements GrpcCallScope {
  readonly startedAt = performance.now();
  readonly requestId: string;
  /** performance.now() past which the prediction is given up: the client's deadline, capped by REQUEST_TIMEOUT_MS. */
  readonly deadline: number;
  /** performance.now() of the client's own deadline (Infinity without one): past it, grpc-js has answered DEADLINE_EXCEEDED. */
  private readonly clientDeadline: number;
  readonly trace: RequestTrace | undefined;
  aborted = false;
  private finished = false;
  private abortListeners: (() => void)[] = [];

  constructor(
    private readonly deps: GrpcPipelineDeps,
    private readonly method: string,
    traced: boolean,
    readonly metadata: grpc.Metadata,
    deadline: grpc.Deadline,
  ) {
    this.requestId = requestIdOf(metadataString(metadata, REQUEST_ID_KEY), deps.requestIds);
    this.clientDeadline = this.startedAt + msUntil(deadline);
    this.deadline = Math.min(this.clientDeadline, this.startedAt + deps.config.requestTimeoutMs);
    deps.lifecycle.requestStarted();
    this.trace = traced
      ? deps.tracing.startRpc(method, this.requestId, metadataString(metadata, 'traceparent'), metadataString(metadata, 'tracestate'))
      : undefined;
  }

  /** Runs `listener` when the client cancels (at once if it has). */
  onAbort(listener: () => void): void {
    if (this.aborted) listener();
    else this.abortListeners.push(listener);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const listener of this.abortListeners.splice(0)) listener();
  }

  /** The request id (and the span's traceparent) for the answer's metadata. */
  answerMetadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(REQUEST_ID_KEY, this.requestId);
    if (this.trace) metadata.set('traceparent', this.trace.traceparent);
    return metadata;
  }

  /** `failure` as the status the call ends with: its trailers carry the request id too. */
  statusOf(failure: GrpcFailure): Partial<grpc.StatusObject> {
    const metadata = this.answerMetadata();
    if (failure.metadata) metadata.merge(failure.metadata);
    return { code: failure.code, details: failure.details, metadata };
  }

  /** Whether the client is gone: it cancelled, or its deadline passed (and grpc-js answered DEADLINE_EXCEEDED). */
  get gone(): boolean {
    return this.aborted || performance.now() >= this.clientDeadline;
  }

  /** The last stage of a call the client left: DEADLINE_EXCEEDED past its deadline (grpc-js answered that), else CANCELLED. */
  finishAborted(): void {
    this.finish(performance.now() >= this.clientDeadline ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED);
  }

  /** Runs the call's last stage, once. */
  finish(code: grpc.status, failure?: GrpcFailure, err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    const { lifecycle, metrics, logger } = this.deps;
    lifecycle.requestFinished();
    const ms = performance.now() - this.startedAt;
    const name = STATUS_NAMES[code] ?? String(code);
    metrics.observeGrpc(this.method, name, ms / 1000);
    const reason = failure?.error && failureReasonOf(failure.error);
    if (reason) metrics.failure(reason);
    if (failure?.fault) logger.error({ reqId: this.requestId, err }, 'prediction failed');
    const serverFailure = SERVER_CODES.has(code);
    const level = code === grpc.status.OK ? 'debug' : serverFailure ? 'error' : 'info';
    if (logger.isLevelEnabled(level)) logger[level]({ reqId: this.requestId, method: this.method, code: name, ms }, 'rpc');
    this.trace?.endRpc(code, failure?.error?.code, serverFailure ? (failure?.details ?? name) : undefined);
  }
}
