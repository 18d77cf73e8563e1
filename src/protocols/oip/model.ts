// A served model as the Open Inference Protocol describes it, the same over HTTP (/v2, infer-route.ts and metadata-routes.ts)
// and gRPC (inference.GRPCInferenceService, grpc-service.ts).
import { perModel } from '../../model-repository/per-model.js';

/** A served model as the Open Inference Protocol names it: its name, its one version (its identity). */
export interface OipModel {
  /** Its name in the repository (MODEL_DIR alone: the hub repository's last part, else the directory's name). */
  readonly name: string;
  /** The model id (hash of the ONNX file, tokenizer and labels): a new model is a new version. */
  readonly version: string;
  readonly labels: readonly string[];
}

/** A served model as the protocol names it, built once per model. */
export const oipModelOf = perModel((model): OipModel => ({ name: model.name, version: model.version, labels: model.info.labels }));

/** Whether a request's model name (and version, when it names one) is the served model's. */
export function isServedModel(model: OipModel, name: string, version: string | undefined): boolean {
  return name === model.name && (version === undefined || version === model.version);
}

/** The server metadata's name. */
export const OIP_SERVER_NAME = 'sentiment-inference-server';

/** A tensor's name, datatype and shape (-1: any size). */
export interface OipTensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface OipModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly OipTensorMetadata[];
  readonly outputs: readonly OipTensorMetadata[];
}

/** The model metadata: one BYTES input of texts; each text's scores (label-id order) and its top label out. */
export function oipModelMetadata(model: OipModel): OipModelMetadata {
  return {
    name: model.name,
    versions: [model.version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
    outputs: [
      { name: 'scores', datatype: 'FP32', shape: [-1, model.labels.length] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
  };
}
