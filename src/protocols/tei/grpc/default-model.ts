// The model tei.v1's services serve: their messages name none, so it is the repository's default model
// (DEFAULT_MODEL), found per call, as the HTTP routes without a name find it.
import type { EdgeSettings } from '../../../config.js';
import { Errors } from '../../../errors.js';
import type { ModelLookup } from '../../../model-repository/model-repository.js';
import type { ServedModel } from '../../../model-repository/served-model.js';
import { teiInfo } from '../info.js';
import { infoResponseOf } from './info.js';
import type { InfoResponse } from './messages.js';
import { TeiTokenizer } from './tokenizer.js';

/** What tei.v1 answers of one served model, built once per ServedModel (a new version is a new one). */
export interface TeiModel {
  readonly served: ServedModel;
  readonly infoResponse: InfoResponse;
  /** Rerank's limits: a reranker has one label; a request holds at most maxBatch texts. */
  readonly rerankLimits: { readonly numLabels: number; readonly maxBatch: number };
  /** Its tokenizer.json, for Tokenize and Decode (its work runs on libuv's pool). */
  readonly tokenizer: TeiTokenizer;
}

/** The default model as tei.v1 serves it, or NOT_FOUND naming it while it is not loaded. */
export function teiDefaultModel(models: ModelLookup, config: EdgeSettings, version: string): () => TeiModel {
  const described = new WeakMap<ServedModel, TeiModel>();
  return () => {
    const served = models.get(models.defaultName);
    if (served === undefined) throw Errors.ModelNotFound(models.defaultName);
    let model = described.get(served);
    if (model === undefined) {
      const info = teiInfo(served.info, config, version);
      model = {
        served,
        infoResponse: infoResponseOf(info),
        rerankLimits: { numLabels: info.labels.length, maxBatch: info.maxClientBatchSize },
        tokenizer: TeiTokenizer.fromFile(served.info.tokenizerPath),
      };
      described.set(served, model);
    }
    return model;
  };
}
