// The served model as the Open Inference Protocol describes it, the same over HTTP (/v2, infer-route.ts and metadata-routes.ts)
// and gRPC (inference.GRPCInferenceService, grpc-service.ts).
import { basename } from 'node:path';
import type { ModelInfo } from '../../model-loading/model-info.js';
import type { ServedModel } from '../../model-repository/served-model.js';

/** The served model as the Open Inference Protocol names it: one model, one version (its identity). */
export interface OipModel {
  /** The hub repository's last part, else the model directory's name. */
  readonly name: string;
  /** The model id (hash of the ONNX file, tokenizer and labels): a new model is a new version. */
  readonly version: string;
  readonly labels: readonly string[];
}

export function oipModelOf(model: Pick<ModelInfo, 'repo' | 'dir' | 'id' | 'labels'>): OipModel {
  return { name: model.repo?.split('/').pop() ?? basename(model.dir), version: model.id, labels: model.labels };
}

const ofServed = new WeakMap<ServedModel, OipModel>();

/** A model of the repository as the protocol names it (its repository name), built once per ServedModel. */
export function oipModelOfServed(served: ServedModel): OipModel {
  let model = ofServed.get(served);
  if (model === undefined) {
    model = { name: served.name, version: served.version, labels: served.info.labels };
    ofServed.set(served, model);
  }
  return model;
}

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
