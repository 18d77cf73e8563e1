import {
  ApiDocs,
  BulkPredictRequest,
  BulkPredictResponse,
  HealthResponse,
  HTTPError,
  HTTPValidationError,
  InfoResponse,
  ModelsResponse,
} from '../generated/schemas.js';
import type { Config } from '../config.js';
import { Errors, RequestError } from '../errors.js';
import { errorAnswer } from './error-answers.js';
import { createPredictionFormatter } from '../inference/prediction-codec.js';
import { parseBulkPredictRequest } from '../protocols/bulk-predict/parse-request.js';
import { addApiKeySecurity, type OpenApiDocument } from './api-key-openapi.js';
import { type ApiKeyGuard, routeGroup } from './api-keys.js';
import { modelNameParameter, pipelineErrors, protocolOpenApi } from './openapi-protocols.js';
import { TEI_TAG, teiPaths, teiSchemas } from '../protocols/tei/openapi.js';

export type OpenApiConfig = Pick<
  Config,
  'basePath' | 'maxTexts' | 'maxBodyBytes' | 'maxTokens' | 'maxQueueTokens' | 'maxQueueDelayMs' | 'requestTimeoutMs' | 'timingHeaders'
> &
  Partial<Pick<Config, 'metricsPath' | 'teiPrefix'>>;

type ErrorCode = keyof typeof ApiDocs.errors;
type HeaderName = keyof typeof ApiDocs.headers;

const EXAMPLE_TEXTS = ['I love you!', 'I hate you!'];

const withoutId = ({ $id: _id, ...schema }: Record<string, unknown>): Record<string, unknown> => schema;
const ref = (kind: 'schemas' | 'headers', name: string) => ({ $ref: `#/components/${kind}/${name}` });
const headerRefs = (names: readonly HeaderName[]) => Object.fromEntries(names.map((name) => [name, ref('headers', name)]));

/**
 * The OpenAPI 3.1.0 document, built once at start-up: schemas and prose from schemas/, the live limits of
 * this server, and examples in the loaded model's labels.
 */
export function buildOpenApi(options: {
  config: OpenApiConfig;
  labels: readonly string[];
  version: string;
  /** With keys configured, the protected operations declare the bearer scheme. */
  apiKeys?: Pick<ApiKeyGuard, 'protects'>;
}): string {
  const { config, labels } = options;
  const request = withoutId(BulkPredictRequest);
  const requestSchema = {
    ...request,
    properties: { text: { ...(request.properties as { text: object }).text, maxItems: config.maxTexts } },
  };
  const predictHeaders: HeaderName[] = ['x-request-id', 'x-cache'];
  if (config.timingHeaders) predictHeaders.push('x-queue-time', 'x-inference-time', 'x-total-time');
  const bulkPredict = ApiDocs.operations.bulkPredict;
  const health = ApiDocs.operations.health;
  const info = ApiDocs.operations.info;
  const models = ApiDocs.operations.models;
  const protocols = protocolOpenApi({ basePath: config.basePath, maxBodyBytes: config.maxBodyBytes });
  const name = modelNameParameter(config.basePath);
  const modelByName = `The model \`name\` (\`${config.basePath}/models\` lists them); the same body, answer and errors as the route without a name, which serves the default model (\`DEFAULT_MODEL\`).`;
  const bulkPredictOperation = {
    tags: [bulkPredict.tag],
    summary: bulkPredict.summary,
    description: `${bulkPredict.description}\n\n${serverLimits(config, labels)}`,
    operationId: 'bulk_predict',
    requestBody: {
      required: true,
      description: `The texts to classify: at most ${config.maxTexts} texts in at most ${config.maxBodyBytes} bytes.`,
      content: { 'application/json': { schema: ref('schemas', 'BulkPredictRequest'), example: { text: EXAMPLE_TEXTS } } },
    },
    responses: {
      200: {
        description: ApiDocs.responses.bulkPredict[200],
        headers: headerRefs(predictHeaders),
        content: { 'application/json': { schema: ref('schemas', 'BulkPredictResponse'), example: examplePredictions(labels) } },
      },
      422: {
        description: `${errorDescription('INF_ERR_VALIDATION')} ${ApiDocs.responses.bulkPredict[422]}`,
        headers: headerRefs(['x-request-id']),
        content: {
          'application/json': { schema: ref('schemas', 'HTTPValidationError'), examples: validationExamples(config.maxTexts) },
        },
      },
      ...errorResponses(config),
      ...modelNotFoundResponse(true),
    },
  };
  const infoOperation = {
    tags: [info.tag],
    summary: info.summary,
    description: info.description,
    operationId: 'info',
    responses: {
      200: {
        description: 'The served model and the limits requests meet.',
        content: { 'application/json': { schema: ref('schemas', 'InfoResponse') } },
      },
      ...modelNotFoundResponse(false),
    },
  };

  const document = {
    openapi: '3.1.0',
    info: { title: ApiDocs.title, version: options.version, description: ApiDocs.description },
    tags: [...ApiDocs.tags, TEI_TAG],
    paths: {
      // First, so that the service's own /info and /health win where TEI_PREFIX equals BASE_PATH (as in app.ts).
      ...teiPaths(config.teiPrefix ?? '', config.maxTexts, config.maxBodyBytes),
      [`${config.basePath}/bulk-predict`]: { post: bulkPredictOperation },
      [`${config.basePath}/models/{name}/bulk-predict`]: {
        parameters: [name],
        post: {
          ...bulkPredictOperation,
          summary: `${bulkPredict.summary} (a model by name)`,
          description: `${modelByName} ${bulkPredictOperation.description}`,
          operationId: 'model_bulk_predict',
        },
      },
      [`${config.basePath}/info`]: { get: infoOperation },
      [`${config.basePath}/models`]: {
        get: {
          tags: [models.tag],
          summary: models.summary,
          description: models.description,
          operationId: 'models',
          responses: {
            200: {
              description: 'Every model served, the default first.',
              content: { 'application/json': { schema: ref('schemas', 'ModelsResponse') } },
            },
          },
        },
      },
      [`${config.basePath}/models/{name}/info`]: {
        parameters: [name],
        get: {
          ...infoOperation,
          summary: `${info.summary} (a model by name)`,
          description: `${modelByName} ${info.description}`,
          operationId: 'model_info',
        },
      },
      [`${config.basePath}/health`]: {
        get: {
          tags: [health.tag],
          summary: health.summary,
          description: health.description,
          operationId: 'health',
          responses: {
            200: { description: ApiDocs.responses.health[200], content: healthContent({ healthy: 'Ready' }) },
            503: {
              description: ApiDocs.responses.health[503],
              content: healthContent({ starting: 'The workers are loading the model', draining: 'Shutting down after SIGTERM' }),
            },
          },
        },
      },
      ...protocols.paths,
    },
    components: {
      schemas: {
        BulkPredictRequest: requestSchema,
        BulkPredictResponse: withoutId(BulkPredictResponse),
        HealthResponse: withoutId(HealthResponse),
        HTTPError: withoutId(HTTPError),
        HTTPValidationError: withoutId(HTTPValidationError),
        InfoResponse: withoutId(InfoResponse),
        ModelsResponse: withoutId(ModelsResponse),
        ...protocols.schemas,
        ...teiSchemas(config.maxTexts),
      },
      headers: headerComponents(),
    },
  };
  const { apiKeys } = options;
  if (apiKeys) {
    const groupOf = (path: string) =>
      routeGroup(path, { basePath: config.basePath, metricsPath: config.metricsPath ?? '/metrics', teiPrefix: config.teiPrefix ?? '' });
    addApiKeySecurity(document as unknown as OpenApiDocument, groupOf, (group) => apiKeys.protects(group));
  }
  return JSON.stringify(document);
}

/** The limits this server runs with, so the document a client reads states the deployment's values. */
function serverLimits(config: OpenApiConfig, labels: readonly string[]): string {
  const settings = {
    MAX_TEXTS: config.maxTexts,
    MAX_BODY_BYTES: config.maxBodyBytes,
    MAX_TOKENS: config.maxTokens,
    MAX_QUEUE_TOKENS: config.maxQueueTokens,
    MAX_QUEUE_DELAY_MS: config.maxQueueDelayMs,
    REQUEST_TIMEOUT_MS: config.requestTimeoutMs,
  };
  const values = Object.entries(settings)
    .map(([name, value]) => `\`${name}\` = ${value}`)
    .join(', ');
  return `**This server:** ${values}; labels ${labels.map((label) => `\`${label}\``).join(', ')}.`;
}

/**
 * The example texts' predictions in the loaded model's labels, formatted by the service's own formatter from
 * made-up logits, so the scores are a real softmax (they sum to 1) in the response's exact form. "I love you!"
 * favours a label named like "positive" (else the last id, as in SST-2), "I hate you!" one named like
 * "negative" (else id 0).
 */
function examplePredictions(labels: readonly string[]): { predictions: unknown[] } {
  const format = createPredictionFormatter(labels);
  const favoured = [labels.findIndex((l) => /pos/i.test(l)), labels.findIndex((l) => /neg/i.test(l))];
  const fallback = [labels.length - 1, 0];
  const margins = [4.3, 3.5];
  const predictions = EXAMPLE_TEXTS.map((_, k) => {
    const top = favoured[k] >= 0 ? favoured[k] : fallback[k];
    const logits = Float32Array.from(labels, (_, i) => (i === top ? margins[k] : -margins[k] - 0.5 * i));
    return JSON.parse(format(logits, 0)) as unknown;
  });
  return { predictions };
}

/** 422 examples produced by the service's own parser, so they are exactly what a client gets. */
function validationExamples(maxTexts: number): Record<string, { summary: string; value: unknown }> {
  const bodies: [string, string, string][] = [
    ['json_invalid', 'Not JSON: {"text": [', '{"text": ['],
    ['list_type', '`text` is not a list', '{"text": "I love you!"}'],
    ['string_type', 'An item is not a string', '{"text": ["I love you!", 42]}'],
    ['missing', 'No `text`', '{"texts": ["I love you!"]}'],
  ];
  return Object.fromEntries(
    bodies.map(([name, summary, body]) => {
      try {
        parseBulkPredictRequest(new TextEncoder().encode(body), maxTexts);
      } catch (err) {
        if (err instanceof RequestError) return [name, { summary, value: JSON.parse(errorAnswer(err, 'bulk-predict').body) }];
        throw err;
      }
      throw new Error(`example body ${body} is valid`);
    }),
  );
}

/** Every other error of the route, grouped by status: each code with its docs/api.md text, and its real body. */
function errorResponses(config: OpenApiConfig): Record<number, object> {
  const errors = (
    [
      ['INF_ERR_AMBIGUOUS_FRAMING', Errors.AmbiguousFraming()],
      ['INF_ERR_TRANSFER_ENCODING', Errors.TransferEncoding()],
      ['INF_ERR_TRANSFER_CODING', Errors.TransferCodingNotImplemented('gzip')],
      ...pipelineErrors(config.maxBodyBytes),
    ] as const
  ).map(([code, error]) => [code, errorAnswer(error, 'bulk-predict')] as const);
  const responses: Record<number, { description: string; headers: object; content: object }> = {};
  for (const status of [...new Set(errors.map(([, e]) => e.status))].sort((a, b) => a - b)) {
    const group = errors.filter(([, e]) => e.status === status);
    const headers: HeaderName[] = ['x-request-id'];
    if (group.some(([, e]) => e.headers.some(([name]) => name === 'retry-after'))) headers.push('Retry-After');
    responses[status] = {
      description: group.map(([code]) => errorDescription(code)).join('\n\n'),
      headers: headerRefs(headers),
      content: {
        'application/json': {
          schema: ref('schemas', 'HTTPError'),
          examples: Object.fromEntries(group.map(([code, e]) => [code, { summary: code, value: JSON.parse(e.body) }])),
        },
      },
    };
  }
  return responses;
}

/**
 * A name no model is served under, or the default model unloaded: 404 in the service's own shape. The prediction
 * routes' answers carry `x-request-id`; the GET routes' do not.
 */
function modelNotFoundResponse(withRequestId: boolean): Record<number, object> {
  const notFound = errorAnswer(Errors.ModelNotFound('other'), 'bulk-predict');
  return {
    [notFound.status]: {
      description: errorDescription('INF_ERR_MODEL_NOT_FOUND'),
      ...(withRequestId ? { headers: headerRefs(['x-request-id']) } : {}),
      content: {
        'application/json': {
          schema: ref('schemas', 'HTTPError'),
          examples: { INF_ERR_MODEL_NOT_FOUND: { summary: 'INF_ERR_MODEL_NOT_FOUND', value: JSON.parse(notFound.body) } },
        },
      },
    },
  };
}

function errorDescription(code: ErrorCode): string {
  return `\`${code}\`: ${ApiDocs.errors[code]}.`;
}

function healthContent(states: Record<string, string>): object {
  const examples = Object.fromEntries(Object.entries(states).map(([status, summary]) => [status, { summary, value: { status } }]));
  return { 'application/json': { schema: ref('schemas', 'HealthResponse'), examples } };
}

function headerComponents(): Record<HeaderName, object> {
  const number = { type: 'number', minimum: 0 };
  const schemas: Record<HeaderName, object> = {
    'x-request-id': { type: 'string', maxLength: 128 },
    'x-cache': { type: 'string', enum: ['hit', 'miss', 'partial'] },
    'x-queue-time': number,
    'x-inference-time': number,
    'x-total-time': number,
    'Retry-After': { type: 'integer', minimum: 0 },
  };
  return Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => [name, { description: ApiDocs.headers[name as HeaderName], schema }]),
  ) as Record<HeaderName, object>;
}
