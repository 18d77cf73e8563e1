import { Errors } from '../../errors.js';
import { parseOipInferRequest } from './parse-request.js';
import { createInferenceHandler, type InferenceRouteDeps } from '../../http/inference-route.js';
import type { ModelLookup } from '../../model-repository/model-repository.js';
import { oipModelOfServed } from './model.js';
import { type OipOutputName, oipOutputs } from './tensors.js';
import { decodeSegment, servedAtPath } from './metadata-routes.js';
import type { RouteHandler } from '../../http/pipeline.js';

/**
 * POST /v2/models/{name}[/versions/{version}]/infer (Open Inference Protocol): a BYTES tensor of texts in,
 * and out `scores` (FP32 [n, labels], each row in label-id order: the order of GET /v2/models/{name}'s labels
 * and of /project/info's) and `label` (BYTES [n], each text's most probable label, the first by id on a tie).
 * The scores are the cached prediction's, so this route shares the cache with the others.
 */
export function createOipInferHandler(deps: InferenceRouteDeps & { readonly repository: ModelLookup }, withVersion: boolean): RouteHandler {
  const models = deps.repository;
  return createInferenceHandler(deps, {
    errorFamily: 'oip',
    params: (req) => ({ name: req.getParameter(0) ?? '', version: withVersion ? (req.getParameter(1) ?? '') : undefined }),
    // The path's segments as sent (percent-encoded, so without NUL) and the version the name serves now: a body
    // for an unknown model is never memoized, and a model loaded anew (or unloaded) never meets its old answers.
    memoScope: ({ name, version }) => `\0oip-infer\0${name}\0${version ?? ''}\0${models.get(decodeSegment(name))?.version ?? ''}`,
    answer(ctx, body, { name, version }) {
      const served = servedAtPath(models, name, version);
      if (!served) throw Errors.ModelNotFound(decodeSegment(name));
      const model = oipModelOfServed(served);
      const request = parseOipInferRequest(body, deps.config.maxTexts);
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
