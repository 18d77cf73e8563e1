// A served model as the Open Inference Protocol describes it, the same over HTTP (/v2, infer-route.ts and metadata-routes.ts)
// and gRPC (inference.GRPCInferenceService, grpc-service.ts).
import { perModel } from '../../model-repository/per-model.js';
import type { ServedModel } from '../../model-repository/served-model.js';

/** A served model as the Open Inference Protocol names it: its name, its one version (its identity). */
export interface OipModel {
  /** Its name in the repository (MODEL_DIR alone: the hub repository's last part, else the directory's name). */
  readonly name: string;
  /** The model id (hash of the ONNX file, tokenizer and labels): a new model is a new version. */
  readonly version: string;
  readonly labels: readonly string[];
}

/** A served model as the protocol names it, built once per model. */
export function oipModelOf(served: ServedModel): OipModel {
  return oipDescriptionOf(served).model;
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

/** A served model as the protocol describes it: its name, version and labels, and its metadata answer. */
export interface OipDescription {
  readonly model: OipModel;
  readonly metadata: OipModelMetadata;
}

/** The description of a served model, built on its first request and kept as long as the model is (perModel). */
export const oipDescriptionOf = perModel((served): OipDescription => {
  const model = { name: served.name, version: served.version, labels: served.info.labels };
  return { model, metadata: oipModelMetadata(model) };
});
