import type { ApiKeyRouteGroup } from '../api-key-source.js';
import { Errors } from '../errors.js';
import { errorAnswer } from './error-answers.js';
import { ApiDocs } from '../generated/schemas.js';
import { API_KEY_REALM } from './api-keys.js';

interface Operation {
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, unknown>;
}

const SCHEME = 'apiKey';
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Adds the bearer scheme, and on each operation whose route needs a key its `security` and 401, so Swagger UI's
 * Authorize button sends the key with "Try it out". Only called when keys are configured: without them the
 * document is exactly as before.
 */
export function addApiKeySecurity(
  document: OpenApiDocument,
  groupOf: (path: string) => ApiKeyRouteGroup | undefined,
  protects: (group: ApiKeyRouteGroup) => boolean,
): void {
  document.components.securitySchemes = { [SCHEME]: { type: 'http', scheme: 'bearer', description: ApiDocs.apiKeys.scheme } };
  const refusals = [Errors.ApiKeyMissing(API_KEY_REALM), Errors.ApiKeyInvalid(API_KEY_REALM)];
  const unauthorized = {
    description: refusals.map((e) => `\`${e.code}\`: ${ApiDocs.errors[e.code as keyof typeof ApiDocs.errors]}.`).join('\n\n'),
    headers: { 'WWW-Authenticate': { description: ApiDocs.apiKeys['WWW-Authenticate'], schema: { type: 'string' } } },
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/HTTPError' },
        examples: Object.fromEntries(
          refusals.map((e) => [e.code, { summary: e.code, value: JSON.parse(errorAnswer(e, 'bulk-predict').body) }]),
        ),
      },
    },
  };
  for (const [path, operations] of Object.entries(document.paths)) {
    const group = groupOf(path);
    if (group === undefined || !protects(group)) continue;
    // A path item also holds `parameters` (the protocols' {name}), which is not an operation.
    for (const [method, operation] of Object.entries(operations)) {
      if (!METHODS.has(method)) continue;
      operation.security = [{ [SCHEME]: [] }];
      operation.responses[401] = unauthorized;
    }
  }
}
