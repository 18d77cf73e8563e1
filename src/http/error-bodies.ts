import type { HttpError } from '../errors.js';

/**
 * The error body of the Hugging Face Inference API and of the Open Inference Protocol: `{"error": message}`.
 * @huggingface/inference surfaces `error` as its exception's message. FastAPI's 422 list (never raised on
 * these routes) would read as its summary.
 */
export function errorMessageBody(error: HttpError): string {
  return JSON.stringify({ error: typeof error.detail === 'string' ? error.detail : error.message });
}
