import { createHash } from 'node:crypto';

/**
 * Redis key of a text's prediction: `<prefix>::<model id>::<sha256 of the text>`. The model id is part of
 * every key, so a new model never reads an old model's scores; hashing bounds key length whatever the text.
 */
export function createCacheKey(prefix: string, modelId: string): (text: string) => string {
  const head = `${prefix}::${modelId}::`;
  return (text) => head + createHash('sha256').update(text).digest('hex');
}
