import { BulkPredictRequest, BulkPredictResponse, HealthResponse, HTTPError, HTTPValidationError, InfoResponse } from '../generated/schemas.js';

const withoutId = ({ $id: _id, ...schema }: Record<string, unknown>): Record<string, unknown> => schema;
const json = (name: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } });
const error = (description: string) => ({ description, content: json('HTTPError') });

/** The OpenAPI 3.1.0 document, built once at start-up from the schemas in schemas/ and the live limits. */
export function buildOpenApi(options: { basePath: string; maxTexts: number; maxBodyBytes: number; version: string }): string {
  const request = withoutId(BulkPredictRequest);
  const requestSchema = {
    ...request,
    properties: { text: { ...(request.properties as { text: object }).text, maxItems: options.maxTexts } },
  };
  return JSON.stringify({
    openapi: '3.1.0',
    info: {
      title: 'Sentiment inference',
      version: options.version,
      description: 'DistilBERT SST-2 sentiment: every label with its softmax score, per text.',
    },
    paths: {
      [`${options.basePath}/bulk-predict`]: {
        post: {
          summary: 'Bulk Predict',
          operationId: 'bulk_predict',
          requestBody: { required: true, content: json('BulkPredictRequest'), description: `At most ${options.maxBodyBytes} bytes.` },
          responses: {
            200: { description: 'Predictions, in input order.', content: json('BulkPredictResponse') },
            400: error('The body is not UTF-8.'),
            413: error('The body is larger than the limit.'),
            415: error('A Content-Type other than JSON.'),
            422: { description: 'Validation Error', content: json('HTTPValidationError') },
            500: error('The model failed on this request.'),
            503: error('Overloaded, loading or shutting down; see Retry-After.'),
            504: error('Prediction timeout.'),
          },
        },
      },
      [`${options.basePath}/info`]: {
        get: {
          summary: 'Info',
          operationId: 'info',
          responses: { 200: { description: 'The served model and the limits requests meet.', content: json('InfoResponse') } },
        },
      },
      [`${options.basePath}/health`]: {
        get: {
          summary: 'Health',
          operationId: 'health',
          responses: {
            200: { description: 'Every worker has loaded and warmed the model.', content: json('HealthResponse') },
            503: { description: 'Starting or draining.', content: json('HealthResponse') },
          },
        },
      },
    },
    components: {
      schemas: {
        BulkPredictRequest: requestSchema,
        BulkPredictResponse: withoutId(BulkPredictResponse),
        HealthResponse: withoutId(HealthResponse),
        HTTPError: withoutId(HTTPError),
        HTTPValidationError: withoutId(HTTPValidationError),
        InfoResponse: withoutId(InfoResponse),
      },
    },
  });
}
