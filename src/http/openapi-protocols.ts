import {
  ApiDocs,
  ErrorMessage,
  HfTextClassificationRequest,
  OipInferRequest,
  RepositoryIndexRequest,
  RepositoryModelRequest,
} from '../generated/schemas.js';
import { Errors, type RequestError } from '../errors.js';
import { errorAnswer } from './error-answers.js';

type ErrorCode = keyof typeof ApiDocs.errors;

const withoutId = ({ $id: _id, ...schema }: Record<string, unknown>): Record<string, unknown> => schema;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, extra: object = {}) => ({ 'application/json': { schema, ...extra } });
const scored = {
  type: 'object',
  required: ['label', 'score'],
  properties: { label: { type: 'string' }, score: { type: 'number' } },
};
const tensor = (datatype: string) => ({
  type: 'object',
  required: ['name', 'datatype', 'shape', 'data'],
  properties: {
    name: { type: 'string' },
    datatype: { const: datatype },
    shape: { type: 'array', items: { type: 'integer' } },
    data: { type: 'array' },
  },
});

/** The path parameter of every route that names its model. */
export function modelNameParameter(basePath: string): object {
  return {
    name: 'name',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: `A served model's name: its directory in \`MODEL_REPOSITORY\` (\`GET ${basePath}/models\` lists them). An unknown or unloaded name is a 404.`,
  };
}

/**
 * The paths and schemas of the other protocols' routes (POST /, POST /models/{name}, /v2/...), for the OpenAPI
 * document that openapi.ts builds: their bodies, their errors in the {"error"} shape, with real bodies as examples.
 */
export function protocolOpenApi(options: { basePath: string; maxBodyBytes: number }): {
  paths: Record<string, object>;
  schemas: Record<string, object>;
} {
  const errors = errorResponses([
    ['INF_ERR_INVALID_INPUT', Errors.InvalidInput('inputs[1] must be string')],
    ...pipelineErrors(options.maxBodyBytes),
  ]);
  const notFound = errorResponses([['INF_ERR_MODEL_NOT_FOUND', Errors.ModelNotFound('other')]]);
  const hf = ApiDocs.operations.hfTextClassification;
  const infer = ApiDocs.operations.oipInfer;
  const oip = ApiDocs.operations.oipInfer.tag;
  const name = modelNameParameter(options.basePath);
  const version = {
    name: 'version',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: "The model's one version: its id.",
  };
  const get = (summary: string, description: string, schema: string, extra: object = {}) => ({
    get: { tags: [oip], summary, description, responses: { 200: { description: 'OK', content: json(ref(schema)) }, ...extra } },
  });
  const ready = (summary: string, description: string, schema: string, extra: object = {}) =>
    get(summary, description, schema, { 503: { description: 'Not ready (starting or draining).', content: json(ref(schema)) }, ...extra });
  const inferOperation = (parameters: object[]) => ({
    parameters,
    post: {
      tags: [oip],
      summary: infer.summary,
      description: infer.description,
      requestBody: { required: true, content: json(ref('OipInferRequest')) },
      responses: { 200: { description: 'The output tensors.', content: json(ref('OipInferResponse')) }, ...errors, ...notFound },
    },
  });
  const hfOperation = {
    tags: [hf.tag],
    summary: hf.summary,
    description: hf.description,
    operationId: 'hf_text_classification',
    requestBody: {
      required: true,
      content: json(ref('HfTextClassificationRequest'), { example: { inputs: 'I love you!', parameters: { top_k: 1 } } }),
    },
    responses: {
      200: { description: 'One list per input (a single string is one input).', content: json(ref('HfTextClassificationResponse')) },
      ...errors,
      ...notFound,
    },
  };
  const modelMetadata = get(
    'Model metadata',
    'The model: name, versions, platform, input and output tensors.',
    'OipModelMetadata',
    notFound,
  );
  const modelReady = ready('Model ready', '200 once every worker is warm.', 'OipModelReady', notFound);
  const repositoryErrors = (extra: [ErrorCode, RequestError][]) =>
    errorResponses([
      ['INF_ERR_INVALID_INPUT', Errors.InvalidInput('ready must be boolean')],
      ['INF_ERR_BODY_ENCODING', Errors.BodyEncoding()],
      ['INF_ERR_BODY_TOO_LARGE', Errors.BodyTooLarge(options.maxBodyBytes)],
      ['INF_ERR_MEDIA_TYPE', Errors.UnsupportedMediaType('text/plain')],
      ['INF_ERR_NOT_READY', Errors.NotReady()],
      ['INF_ERR_INTERNAL', Errors.Internal()],
      ...extra,
    ]);
  const repositoryModel = (summary: string, description: string, extra: [ErrorCode, RequestError][]) => ({
    parameters: [{ ...name, description: "A model's name: its directory in `MODEL_REPOSITORY`, served or not." }],
    post: {
      tags: [oip],
      summary,
      description,
      requestBody: { required: false, content: json(ref('RepositoryModelRequest')) },
      responses: {
        200: { description: 'Done.', content: json({ type: 'object', maxProperties: 0 }) },
        ...repositoryErrors([['INF_ERR_MODEL_NOT_FOUND', Errors.ModelNotFound('other')], ...extra]),
      },
    },
  });
  return {
    paths: {
      '/': { post: hfOperation },
      '/models/{name}': {
        parameters: [name],
        post: {
          ...hfOperation,
          summary: `${hf.summary}, a model by name`,
          description: `The model \`name\`, at the hub's serverless URL shape; the same body, answer and errors as \`POST /\`, which serves the default model (\`DEFAULT_MODEL\`). ${hf.description}`,
          operationId: 'hf_text_classification_model',
        },
      },
      '/v2/health/live': get('Server live', '200 while the process answers.', 'OipLive'),
      '/v2/health/ready': ready('Server ready', '200 once every worker is warm; 503 while starting and draining.', 'OipReady'),
      '/v2': get('Server metadata', 'The server: name, version, extensions (none).', 'OipServerMetadata'),
      '/v2/models/{name}': { parameters: [name], ...modelMetadata },
      '/v2/models/{name}/versions/{version}': { parameters: [name, version], ...modelMetadata },
      '/v2/models/{name}/ready': { parameters: [name], ...modelReady },
      '/v2/models/{name}/versions/{version}/ready': { parameters: [name, version], ...modelReady },
      '/v2/models/{name}/infer': inferOperation([name]),
      '/v2/models/{name}/versions/{version}/infer': inferOperation([name, version]),
      '/v2/repository/index': {
        post: {
          tags: [oip],
          summary: 'Repository index',
          description:
            'Every model of the repository with its version, state (READY, LOADING, UNLOADING, UNAVAILABLE) and why it is not READY.',
          requestBody: { required: false, content: json(ref('RepositoryIndexRequest')) },
          responses: { 200: { description: 'The models, by name.', content: json(ref('RepositoryIndex')) }, ...repositoryErrors([]) },
        },
      },
      '/v2/repository/models/{name}/load': repositoryModel(
        'Load a model',
        'Loads and warms the directory {name} of the repository in every worker, then serves it (a changed directory is a new version); answered once it serves.',
        [
          ['INF_ERR_MODEL_LOAD', Errors.ModelLoadFailed('other', 'config.json is not JSON')],
          ['INF_ERR_MODEL_BUSY', Errors.ModelBusy('other')],
          ['INF_ERR_MODEL_MEMORY', Errors.ModelMemory('other', 400, 1024)],
        ],
      ),
      '/v2/repository/models/{name}/unload': repositoryModel(
        'Unload a model',
        'Refuses new requests to the model at once, answers those it has queued, then releases its sessions; answered once they are released.',
        [['INF_ERR_MODEL_BUSY', Errors.ModelBusy('other')]],
      ),
    },
    schemas: {
      ErrorMessage: withoutId(ErrorMessage),
      HfTextClassificationRequest: withoutId(HfTextClassificationRequest),
      HfTextClassificationResponse: { type: 'array', items: { type: 'array', items: scored } },
      OipInferRequest: withoutId(OipInferRequest),
      OipInferResponse: {
        type: 'object',
        required: ['model_name', 'outputs'],
        properties: {
          model_name: { type: 'string' },
          model_version: { type: 'string' },
          id: { type: 'string', description: "The request's id, when it had one." },
          outputs: { type: 'array', items: { oneOf: [tensor('FP32'), tensor('BYTES')] } },
        },
      },
      RepositoryIndexRequest: withoutId(RepositoryIndexRequest),
      RepositoryModelRequest: withoutId(RepositoryModelRequest),
      RepositoryIndex: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'version', 'state', 'reason'],
          properties: {
            name: { type: 'string' },
            version: { type: 'string', description: "The model id served (or last tried); '' for a model never loaded." },
            state: { enum: ['READY', 'LOADING', 'UNLOADING', 'UNAVAILABLE'] },
            reason: { type: 'string', description: "Why it is not READY: 'unloaded', or a failed load's message; '' otherwise." },
          },
        },
      },
      OipLive: { type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } },
      OipReady: { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' } } },
      OipModelReady: { type: 'object', required: ['name', 'ready'], properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
      OipServerMetadata: {
        type: 'object',
        required: ['name', 'version', 'extensions'],
        properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
      },
      OipModelMetadata: {
        type: 'object',
        required: ['name', 'platform', 'inputs', 'outputs'],
        properties: {
          name: { type: 'string' },
          versions: { type: 'array', items: { type: 'string' } },
          platform: { type: 'string' },
          inputs: { type: 'array', items: { type: 'object' } },
          outputs: { type: 'array', items: { type: 'object' } },
        },
      },
    },
  };
}

/** The errors of every prediction route, whatever its family: the body's, and the pipeline's. */
export function pipelineErrors(maxBodyBytes: number): [ErrorCode, RequestError][] {
  return [
    ['INF_ERR_BODY_ENCODING', Errors.BodyEncoding()],
    ['INF_ERR_BODY_TOO_LARGE', Errors.BodyTooLarge(maxBodyBytes)],
    ['INF_ERR_MEDIA_TYPE', Errors.UnsupportedMediaType('text/plain')],
    ['INF_ERR_INFERENCE', Errors.InferenceFailed()],
    ['INF_ERR_INTERNAL', Errors.Internal()],
    ['INF_ERR_OVERLOADED', Errors.Overloaded()],
    ['INF_ERR_NOT_READY', Errors.NotReady()],
    ['INF_ERR_TIMEOUT', Errors.Timeout()],
  ];
}

/** Errors grouped by status, each code with its docs/api.md text and its real {"error"} body as the example. */
function errorResponses(errors: [ErrorCode, RequestError][]): Record<number, object> {
  const answers = errors.map(([code, error]) => [code, errorAnswer(error, 'oip')] as const);
  const responses: Record<number, object> = {};
  for (const status of [...new Set(answers.map(([, e]) => e.status))].sort((a, b) => a - b)) {
    const group = answers.filter(([, e]) => e.status === status);
    responses[status] = {
      description: group.map(([code]) => `\`${code}\`: ${ApiDocs.errors[code]}.`).join('\n\n'),
      content: json(ref('ErrorMessage'), {
        examples: Object.fromEntries(group.map(([code, e]) => [code, { summary: code, value: JSON.parse(e.body) }])),
      }),
    };
  }
  return responses;
}
