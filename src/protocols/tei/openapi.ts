import { ApiDocs } from '../../generated/schemas.js';
import { Errors, type RequestError } from '../../errors.js';
import { errorAnswer, requestErrorOf, TEI_UNHEALTHY } from '../../http/error-answers.js';
import { InferenceErrors } from '../../inference/errors.js';

type ErrorCode = keyof typeof ApiDocs.errors;

export const TEI_TAG = {
  name: 'Text Embeddings Inference',
  description:
    "Hugging Face text-embeddings-inference's classification routes, read and answered as TEI does: texts and text pairs, raw scores, TEI's error shape and statuses.",
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const text = { type: 'string' };
const textList = (n: number, description: string) => ({ type: 'array', items: text, minItems: n, maxItems: n, description });

/** The TEI family's schemas (components), after TEI's router/src/http/types.rs. */
export function teiSchemas(maxTexts: number): Record<string, object> {
  const prediction = {
    type: 'array',
    description: 'Every label with its score (its logit with raw_scores), by descending score.',
    items: {
      type: 'object',
      required: ['label', 'score'],
      properties: { label: { type: 'string' }, score: { type: 'number' } },
    },
  };
  const flag = (description: string) => ({ type: ['boolean', 'null'], default: false, description });
  return {
    TeiPredictRequest: {
      type: 'object',
      required: ['inputs'],
      properties: {
        inputs: {
          description:
            'A string is one text; a list of two strings is ONE pair; a list of lists is a batch of [text] and [text, text_pair], mixed.',
          oneOf: [
            { type: 'string', description: 'one text' },
            textList(1, 'one text'),
            textList(2, 'one pair (text, text_pair)'),
            {
              type: 'array',
              description: `a batch, at most ${maxTexts} inputs`,
              minItems: 1,
              maxItems: maxTexts,
              items: { oneOf: [textList(1, 'a text'), textList(2, 'a pair')] },
            },
          ],
        },
        raw_scores: flag('answer the logits instead of the scores'),
        truncate: flag("cut inputs past the model's limit (longest_first for pairs); false refuses them with 413"),
        truncation_direction: { type: ['string', 'null'], enum: ['Right', 'right', null], description: 'only Right is served' },
      },
    },
    TeiPredictResponse: {
      oneOf: [
        { ...prediction, description: 'one input' },
        { type: 'array', items: prediction, description: 'a batch: one list per input' },
      ],
    },
    TeiRerankRequest: {
      type: 'object',
      required: ['query', 'texts'],
      properties: {
        query: text,
        texts: { type: 'array', items: text, minItems: 1, maxItems: maxTexts },
        raw_scores: flag('the logits instead of their sigmoids'),
        return_text: flag('each rank carries its text'),
        truncate: flag("cut pairs past the model's limit; false refuses them with 413"),
        truncation_direction: { type: ['string', 'null'], enum: ['Right', 'right', null] },
      },
    },
    TeiRerankResponse: {
      type: 'array',
      items: {
        type: 'object',
        required: ['index', 'score'],
        properties: { index: { type: 'integer', minimum: 0 }, text: { type: 'string' }, score: { type: 'number' } },
      },
    },
    TeiInfo: {
      type: 'object',
      properties: {
        model_id: { type: 'string' },
        model_sha: { type: ['string', 'null'] },
        model_dtype: { type: 'string' },
        model_type: { type: 'object', description: '{"classifier": {id2label, label2id}}, or "reranker" for a one-label model' },
        max_concurrent_requests: { type: 'integer' },
        max_input_length: { type: 'integer' },
        max_batch_tokens: { type: 'integer' },
        max_batch_requests: { type: ['integer', 'null'] },
        max_client_batch_size: { type: 'integer' },
        auto_truncate: { type: 'boolean' },
        tokenization_workers: { type: 'integer' },
        version: { type: 'string' },
        sha: { type: ['string', 'null'] },
        docker_label: { type: ['string', 'null'] },
      },
    },
    TeiError: {
      type: 'object',
      required: ['error', 'error_type'],
      properties: {
        error: { type: 'string' },
        error_type: { type: 'string', enum: ['unhealthy', 'backend', 'overloaded', 'tokenizer', 'validation', 'empty'] },
      },
    },
  };
}

/**
 * The TEI family's paths at `prefix`, each error under TEI's status with the body a client really gets. TEI's
 * routes serve the default model (DEFAULT_MODEL).
 */
export function teiPaths(prefix: string, maxTexts: number, maxBodyBytes: number): Record<string, object> {
  const common: [ErrorCode, RequestError][] = [
    ['INF_ERR_INPUT_INVALID', Errors.InputInvalid('inputs: invalid length 3, expected a string, a pair of strings or a batch')],
    ['INF_ERR_INPUT_TOO_LONG', Errors.InputTooLong(512, 600)],
    ['INF_ERR_INPUT_EMPTY', Errors.InputEmpty()],
    ['INF_ERR_BATCH_TOO_LARGE', Errors.BatchTooLarge(maxTexts + 1, maxTexts)],
    ['INF_ERR_BODY_TOO_LARGE', Errors.BodyTooLarge(maxBodyBytes)],
    ['INF_ERR_MEDIA_TYPE', Errors.UnsupportedMediaType('text/plain')],
    ['INF_ERR_OVERLOADED', requestErrorOf(InferenceErrors.overloaded(1))],
    ['INF_ERR_NOT_READY', Errors.NotReady()],
    ['INF_ERR_INFERENCE', Errors.InferenceFailed()],
    ['INF_ERR_TIMEOUT', Errors.Timeout()],
    ['INF_ERR_INTERNAL', Errors.Internal()],
    // TEI's routes name no model: theirs is DEFAULT_MODEL, while it is served.
    ['INF_ERR_MODEL_NOT_FOUND', Errors.ModelNotFound('other')],
  ];
  const rerankOnly: [ErrorCode, RequestError][] = [
    ['INF_ERR_TEXTS_EMPTY', Errors.TextsEmpty()],
    ['INF_ERR_NOT_RERANKER', Errors.NotReranker()],
  ];
  const post = (operationId: string, summary: string, request: string, response: string, errors: [ErrorCode, RequestError][]) => ({
    post: {
      tags: [TEI_TAG.name],
      summary,
      operationId,
      requestBody: { required: true, content: { 'application/json': { schema: ref(request) } } },
      responses: {
        200: { description: 'Answered as TEI answers.', content: { 'application/json': { schema: ref(response) } } },
        ...errorResponses(errors),
      },
    },
  });
  return {
    [`${prefix}/predict`]: post(
      'tei_predict',
      'Classify texts and text pairs with the default model (TEI)',
      'TeiPredictRequest',
      'TeiPredictResponse',
      common,
    ),
    [`${prefix}/rerank`]: post(
      'tei_rerank',
      'Rank texts against a query with the default model, a cross-encoder (TEI)',
      'TeiRerankRequest',
      'TeiRerankResponse',
      [...common, ...rerankOnly],
    ),
    [`${prefix}/info`]: {
      get: {
        tags: [TEI_TAG.name],
        summary: "The default model (DEFAULT_MODEL), in TEI's Info shape",
        operationId: 'tei_info',
        responses: {
          200: { description: 'TEI Info.', content: { 'application/json': { schema: ref('TeiInfo') } } },
          ...errorResponses([['INF_ERR_MODEL_NOT_FOUND', Errors.ModelNotFound('other')]]),
        },
      },
    },
    [`${prefix}/health`]: {
      get: {
        tags: [TEI_TAG.name],
        summary: "Readiness, as TEI's health",
        operationId: 'tei_health',
        responses: {
          200: { description: 'Ready (no body).' },
          503: {
            description: 'Loading the model, or shutting down.',
            content: {
              'application/json': {
                schema: ref('TeiError'),
                examples: { unhealthy: { summary: 'not ready', value: JSON.parse(TEI_UNHEALTHY.body) } },
              },
            },
          },
        },
      },
    },
  };
}

function errorResponses(errors: readonly [ErrorCode, RequestError][]): Record<number, object> {
  const rendered = errors.map(([code, error]) => ({ code, answer: errorAnswer(error, 'tei') }));
  const responses: Record<number, object> = {};
  for (const status of [...new Set(rendered.map((r) => r.answer.status))].sort((a, b) => a - b)) {
    const group = rendered.filter((r) => r.answer.status === status);
    responses[status] = {
      description: group.map(({ code }) => `\`${code}\`: ${ApiDocs.errors[code]}.`).join('\n\n'),
      content: {
        'application/json': {
          schema: ref('TeiError'),
          examples: Object.fromEntries(group.map(({ code, answer }) => [code, { summary: code, value: JSON.parse(answer.body) }])),
        },
      },
    };
  }
  return responses;
}
