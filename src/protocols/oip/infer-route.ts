import { parseOipInferRequest } from './parse-request.js';
import { createInferenceHandler, type InferenceRouteDeps } from '../../http/inference-route.js';
import { oipModelOf } from './model.js';
import { type OipOutputName, oipOutputs } from './tensors.js';
import { namedModel, pathSegment } from '../../http/model-path.js';
import type { RouteHandler } from '../../http/pipeline.js';

/**
 * POST /v2/models/{name}[/versions/{version}]/infer (Open Inference Protocol): a BYTES tensor of texts in,
 * and out `scores` (FP32 [n, labels], each row in label-id order: the order of GET /v2/models/{name}'s labels
 * and of /project/info's) and `label` (BYTES [n], each text's most probable label, the first by id on a tie).
 * The scores are the cached prediction's, so this route shares the cache with the others.
 */
export function createOipInferHandler(deps: InferenceRouteDeps, withVersion: boolean): RouteHandler {
  return createInferenceHandler(deps, {
    errorFamily: 'oip',
    params: (req) => ({ name: pathSegment(req, 0), version: withVersion ? pathSegment(req, 1) : undefined }),
    model: ({ name, version }) => namedModel(deps.repository, name, version),
    // A served model's name and version (neither holds a NUL), so no two paths share a key.
    memoScope: ({ name, version }) => `\0oip-infer\0${name}\0${version ?? ''}\0`,
    answer(ctx, body, _path, served) {
      const request = parseOipInferRequest(body, deps.config.maxTexts);
      const model = oipModelOf(served);
      return served.predictor.predict(request.texts, ctx).then((prediction) => {
        const { scores, labels, scoresShape } = oipOutputs(model, prediction);
        const tensors: Record<OipOutputName, object> = {
          scores: { name: 'scores', datatype: 'FP32', shape: scoresShape, data: scores },
          label: { name: 'label', datatype: 'BYTES', shape: [labels.length], data: labels },
        };
        const answer = {
          model_name: model.name,
          model_version: model.version,
          ...(request.id === undefined ? {} : { id: request.id }),
          outputs: request.outputs.map((output) => tensors[output]),
        };
        return { body: JSON.stringify(answer), prediction };
      });
    },
  });
}
