// inference.GRPCInferenceService, the Open Inference Protocol over gRPC (KServe's grpc_predict_v2.proto, which
// Triton's clients speak too): the same model, answers and errors as the HTTP /v2 routes
// (infer-route.ts, metadata-routes.ts), through the same Predictor, so the cache, single flight and admission are shared.
import { Errors } from '../../errors.js';
import { isServedModel, OIP_SERVER_NAME, oipModelMetadata, oipModelOf } from './model.js';
import { type OipOutputName, oipOutputs } from './tensors.js';
import { type GrpcDeps, unaryCall } from '../../grpc/call.js';
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
  const { lifecycle } = deps;
  const model = oipModelOf(deps.models.get(deps.models.defaultName)!);
  const metadata = oipModelMetadata(model);
  const serverMetadata = { name: OIP_SERVER_NAME, version: deps.version, extensions: [] };
  const method = (name: string): string => `${OIP_SERVICE_NAME}/${name}`;
  const ready = (): boolean => lifecycle.state === 'ready';
  /** Another model (or version) than the served one: NOT_FOUND, as the HTTP routes' 404. */
  const served = ({ name, version }: ModelRef): void => {
    if (!isServedModel(model, name, version === '' ? undefined : version)) throw Errors.ModelNotFound(name);
  };

  const implementation = {
    ServerLive: unaryCall(deps, method('ServerLive'), async () => ({ live: true }), { group: 'health' }),
    ServerReady: unaryCall(deps, method('ServerReady'), async () => ({ ready: ready() }), { group: 'health' }),
    ModelReady: unaryCall(
      deps,
      method('ModelReady'),
      async (request: ModelRef) => {
        served(request);
        return { ready: ready() };
      },
      { group: 'health' },
    ),
    ServerMetadata: unaryCall(deps, method('ServerMetadata'), async () => serverMetadata, { group: 'info' }),
    ModelMetadata: unaryCall(
      deps,
      method('ModelMetadata'),
      async (request: ModelRef) => {
        served(request);
        return metadata;
      },
      { group: 'info' },
    ),
    ModelInfer: unaryCall(deps, method('ModelInfer'), async (request: ModelInferRequest, scope) => {
      served({ name: request.model_name, version: request.model_version });
      const { texts, outputs, raw } = parseModelInferRequest(request, deps.config.maxTexts);
      const prediction = await deps.predictor.predict(texts, scope);
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
