import {
  type Attributes,
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { Config } from '../config.js';
import type { BatchRun, TextResult } from '../inference/queue.js';

/** How long shutdown waits for the last spans to reach the collector: a collector that is down must not hold the exit. */
const FLUSH_TIMEOUT_MS = 5_000;
const REQUEST_ID = 'http.response.header.x-request-id';
// OpenTelemetry's RPC conventions (still incubating, so not in the stable semantic-conventions export).
const RPC_SYSTEM = 'rpc.system';
const RPC_SERVICE = 'rpc.service';
const RPC_METHOD = 'rpc.method';
const RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
const GRPC_REQUEST_ID = 'rpc.grpc.response.metadata.x-request-id';
/** The served model a request went to (the repository's name for it), on the request span. */
export const MODEL_NAME = 'model.name';

/**
 * OpenTelemetry tracing of requests, or nothing: when off, `enabled` is false and the HTTP edge creates no
 * trace at all, so the hot path pays one boolean test (docs/observability.md).
 */
export interface Tracing {
  readonly enabled: boolean;
  /**
   * The SERVER span of one request, a child of the client's `traceparent` (and `tracestate`) when they are
   * valid, else a new trace's root. Called in the uWS handler, so the span starts when the request arrived.
   */
  startRequest(method: string, route: string, requestId: string, traceparent: string, tracestate: string): RequestTrace;
  /**
   * The SERVER span of one gRPC call (`method`: `package.Service/Method`), named and attributed as OpenTelemetry's
   * RPC conventions say; a child of the client's `traceparent` metadata as for HTTP.
   */
  startRpc(method: string, requestId: string, traceparent: string, tracestate: string): RequestTrace;
  /** Exports the spans still buffered, then stops (bounded by FLUSH_TIMEOUT_MS). */
  shutdown(): Promise<void>;
}

export const disabledTracing: Tracing = {
  enabled: false,
  startRequest() {
    throw new Error('tracing is off');
  },
  startRpc() {
    throw new Error('tracing is off');
  },
  shutdown: async () => {},
};

const propagator = new W3CTraceContextPropagator();

export function createTracing(
  config: Pick<Config, 'otelTracesEndpoint' | 'otelTracesSampler' | 'otelTracesSamplerArg' | 'otelServiceName'>,
  version: string,
): Tracing {
  const url = config.otelTracesEndpoint;
  if (url === undefined) return disabledTracing;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.otelServiceName, [ATTR_SERVICE_VERSION]: version }),
    sampler: createSampler(config.otelTracesSampler, config.otelTracesSamplerArg),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) })],
  });
  const tracer = provider.getTracer('sentiment-inference-server', version);
  const parentOf = (traceparent: string, tracestate: string): Context =>
    traceparent === '' ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, defaultTextMapGetter);
  return {
    enabled: true,
    startRequest(method, route, requestId, traceparent, tracestate) {
      const parent = parentOf(traceparent, tracestate);
      const span = tracer.startSpan(
        `${method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [ATTR_HTTP_REQUEST_METHOD]: method,
            [ATTR_HTTP_ROUTE]: route,
            [ATTR_URL_PATH]: route,
            [ATTR_URL_SCHEME]: 'http',
            [REQUEST_ID]: [requestId],
          },
        },
        parent,
      );
      return new RequestTrace(tracer, span);
    },
    startRpc(method, requestId, traceparent, tracestate) {
      const slash = method.lastIndexOf('/');
      const span = tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [RPC_SYSTEM]: 'grpc',
            [RPC_SERVICE]: method.slice(0, slash),
            [RPC_METHOD]: method.slice(slash + 1),
            [GRPC_REQUEST_ID]: [requestId],
          },
        },
        parentOf(traceparent, tracestate),
      );
      return new RequestTrace(tracer, span);
    },
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      });
      await Promise.race([provider.shutdown().catch(() => {}), timeout]);
      clearTimeout(timer);
    },
  };
}

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the spec names them. */
function createSampler(name: Config['otelTracesSampler'], ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * One request's span and its children. A batch serves several requests, so each request gets its own
 * `model.run` child per batch its texts ran in (same times, same `inference.batch.id`): every trace shows its
 * whole path, and the batch id ties together the requests that shared a run.
 */
export class RequestTrace {
  /** The request span's context, for the response's `traceparent` header. */
  readonly traceparent: string;
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
    const { traceId, spanId, traceFlags } = span.spanContext();
    this.traceparent = `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
  }

  /** A child span around `work`; a rejection sets its status and passes through. */
  async step<T>(name: string, work: () => Promise<T>, attributes?: (result: T) => Attributes): Promise<T> {
    const span = this.tracer.startSpan(name, {}, this.context);
    try {
      const result = await work();
      if (attributes) span.setAttributes(attributes(result));
      return result;
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * After a request's texts were scored: `queue.wait` from their submission until the last of their batches
   * started, and one `model.run` per batch. Times are performance.now() values, which the SDK takes as such.
   */
  batches(submittedAt: number, results: readonly TextResult[]): void {
    const runs = new Set<BatchRun>();
    for (const result of results) runs.add(result.batch);
    let lastStart = submittedAt;
    for (const run of runs) lastStart = Math.max(lastStart, run.startedAt);
    this.child('queue.wait', submittedAt, lastStart, { 'inference.texts': results.length, 'inference.batches': runs.size });
    for (const run of runs) {
      this.child('model.run', run.startedAt, run.endedAt, {
        'inference.batch.id': run.id,
        'inference.batch.size': run.size,
        'inference.batch.padded_tokens': run.paddedTokens,
        'inference.model_ms': run.inferenceMs,
      });
    }
  }

  /** The request's model, once its route or method has found it. */
  model(name: string): void {
    this.span.setAttribute(MODEL_NAME, name);
  }

  /** The answer was an error: its code names the error type; a 5xx also marks the span as failed. */
  failed(status: number, code: string, message: string): void {
    this.span.setAttribute(ATTR_ERROR_TYPE, code);
    // A SERVER span's 4xx is the client's error, not the service's (HTTP semantic conventions).
    if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  /**
   * A gRPC call's end: its status code, its error's code as `error.type`, and, when the status is the service's own
   * failure (not the client's), the span's ERROR status with `failure`, the status message.
   */
  endRpc(code: number, errorType: string | undefined, failure: string | undefined): void {
    this.span.setAttribute(RPC_GRPC_STATUS_CODE, code);
    if (errorType !== undefined) this.span.setAttribute(ATTR_ERROR_TYPE, errorType);
    if (failure !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
    this.span.end();
  }

  end(status: number, attributes?: Attributes): void {
    this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (attributes) this.span.setAttributes(attributes);
    this.span.end();
  }

  private child(name: string, start: number, end: number, attributes: Attributes): void {
    this.tracer.startSpan(name, { startTime: start, attributes }, this.context).end(end);
  }
}

/** `work` inside a child span of `trace`, or just `work` when the request is not traced. */
export function traced<T>(
  trace: RequestTrace | undefined,
  name: string,
  work: () => Promise<T>,
  attributes?: (result: T) => Attributes,
): Promise<T> {
  return trace === undefined ? work() : trace.step(name, work, attributes);
}
