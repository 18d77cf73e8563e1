// inference.GRPCInferenceService, the Open Inference Protocol over gRPC (KServe's grpc_predict_v2.proto, which
// Triton's clients speak too): every served model by its `model_name`, with the answers and errors of the HTTP /v2
// routes (infer-route.ts, metadata-routes.ts), through the model's Predictor, so the cache, single flight and
// admission are shared.
import { Errors } from '../../errors.js';
import type { ServedModel } from '../../model-repository/served-model.js';
import { OIP_SERVER_NAME, oipDescriptionOf } from './model.js';
import { type OipOutputName, oipOutputs } from './tensors.js';
import { type GrpcCallScope, type GrpcDeps, unaryCall } from '../../grpc/call.js';
import type { GrpcService } from '../../grpc/grpc-service.js';
import { type ModelInferRequest, parseModelInferRequest } from './grpc-infer-request.js';
import { serviceDefinition } from '../../grpc/protos.js';
import { joinRawBytes, rawFp32 } from './raw-tensors.js';

export const OIP_PROTO = 'grpc_predict_v2.proto';
export const OIP_SERVICE_NAME = 'inference.GRPCInferenceService';

interface ModelRef {
  readonly name: string;
  /** '' when the request names no version. */
  readonly version: string;
}

interface OutputTensor {
  readonly name: OipOutputName;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly contents?: { readonly fp32_contents: readonly number[] } | { readonly bytes_contents: readonly Buffer[] };
}

export function createOipGrpcService(deps: GrpcDeps): GrpcService {
  const { lifecycle, models } = deps;
  const serverMetadata = { name: OIP_SERVER_NAME, version: deps.version, extensions: [] };
  const method = (name: string): string => `${OIP_SERVICE_NAME}/${name}`;
  const ready = (): boolean => lifecycle.state === 'ready';
  /**
   * The served model a request names, under its version when it names one; another name or version (or a model
   * not loaded) is NOT_FOUND naming it, as the HTTP routes' 404. The span carries the name.
   */
  const servedModel = ({ name, version }: ModelRef, scope: GrpcCallScope): ServedModel => {
    const served = models.get(name);
    if (served === undefined || (version !== '' && version !== served.version)) throw Errors.ModelNotFound(name);
    scope.trace?.model(served.name);
    return served;
  };

  const implementation = {
    ServerLive: unaryCall(deps, method('ServerLive'), async () => ({ live: true }), { group: 'health' }),
    ServerReady: unaryCall(deps, method('ServerReady'), async () => ({ ready: ready() }), { group: 'health' }),
    ModelReady: unaryCall(
      deps,
      method('ModelReady'),
      async (request: ModelRef, scope) => {
        servedModel(request, scope);
        return { ready: ready() };
      },
      { group: 'health' },
    ),
    ServerMetadata: unaryCall(deps, method('ServerMetadata'), async () => serverMetadata, { group: 'info' }),
    ModelMetadata: unaryCall(
      deps,
      method('ModelMetadata'),
      async (request: ModelRef, scope) => oipDescriptionOf(servedModel(request, scope)).metadata,
      { group: 'info' },
    ),
    ModelInfer: unaryCall(deps, method('ModelInfer'), async (request: ModelInferRequest, scope) => {
      const served = servedModel({ name: request.model_name, version: request.model_version }, scope);
      const { model } = oipDescriptionOf(served);
      const { texts, outputs, raw } = parseModelInferRequest(request, deps.config.maxTexts);
      const prediction = await served.predictor.predict(texts, scope);
      const { scores, labels, scoresShape } = oipOutputs(model, prediction);
      const tensors: Record<OipOutputName, OutputTensor> = {
        scores: { name: 'scores', datatype: 'FP32', shape: scoresShape, contents: raw ? undefined : { fp32_contents: scores } },
        label: {
          name: 'label',
          datatype: 'BYTES',
          shape: [labels.length],
          contents: raw ? undefined : { bytes_contents: labels.map((label) => Buffer.from(label, 'utf8')) },
        },
      };
      return {
        model_name: model.name,
        model_version: model.version,
        id: request.id,
        outputs: outputs.map((name) => tensors[name]),
        raw_output_contents: raw ? outputs.map((name) => (name === 'scores' ? rawFp32(scores) : joinRawBytes(labels))) : [],
      };
    }),
  };
  return { definition: serviceDefinition(OIP_PROTO, OIP_SERVICE_NAME), implementation };
}
