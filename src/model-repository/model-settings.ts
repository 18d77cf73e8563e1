import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Errors } from '../errors.js';
import { formatAjvErrors } from '../validation/format-ajv-errors.js';
import { validateModelSettings } from '../validation/validators.js';

/** A model's own serving settings (schemas/model-settings.json): each overrides the server's setting of the same name. */
export interface ModelSettings {
  readonly maxTokens?: number;
  readonly maxBatchSize?: number;
  readonly maxBatchTokens?: number;
  readonly maxQueueTokens?: number;
  readonly maxQueueDelayMs?: number;
}

/** The file in a model's directory that holds them; optional. */
export const MODEL_SETTINGS_FILE = 'model-settings.json';

/** The directory's settings ({} without the file); a file that is not JSON or not the schema's names itself and why. */
export async function readModelSettings(dir: string): Promise<ModelSettings> {
  const path = join(dir, MODEL_SETTINGS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (err) {
    throw Errors.ModelInvalid(path, `is not JSON (${(err as Error).message})`);
  }
  if (!validateModelSettings(settings)) {
    throw Errors.ModelInvalid(path, `does not match schemas/model-settings.json: ${formatAjvErrors(validateModelSettings.errors)}`);
  }
  return settings as ModelSettings;
}
