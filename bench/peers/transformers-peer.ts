// The peer: what a Node user would deploy instead of us. A fastify server around a transformers.js
// `pipeline('sentiment-analysis')` on the same int8 model, with a whole-request Redis cache in the style of
// the reference's fastapi-cache2 (key = prefix + hash of the whole body, so a reordered list is a miss).
//
// Environment: PORT (8001), HOST (127.0.0.1), MODEL_DIR (required), REDIS_URL (no cache without it),
// CACHE_TTL_S (3600).
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { env as hfEnv, pipeline, type TextClassificationPipeline } from '@huggingface/transformers';

export interface PeerOptions {
  /** Directory of the model (config.json, tokenizer.json, onnx/model_quantized.onnx). */
  modelDir: string;
  redisUrl?: string;
  /** Cache entry lifetime, in seconds. */
  cacheTtlS?: number;
}

interface Label {
  label: string;
  score: number;
}

const CACHE_PREFIX = 'fastapi-cache:bulk-predict:';

/** Returns the request's texts, or an error detail in FastAPI's shape. */
function parseBody(raw: string): { text: string[] } | { detail: unknown[] } {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    return { detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error', ctx: { error: (err as Error).message } }] };
  }
  const text = (body as { text?: unknown } | null)?.text;
  if (!Array.isArray(text)) return { detail: [{ type: 'missing', loc: ['body', 'text'], msg: 'Field required' }] };
  const bad = text.findIndex((s) => typeof s !== 'string');
  if (bad !== -1) return { detail: [{ type: 'string_type', loc: ['body', 'text', bad], msg: 'Input should be a valid string' }] };
  return { text };
}

/** Loads the model offline and builds the server; the caller listens and closes. */
export async function buildPeer(opts: PeerOptions): Promise<FastifyInstance> {
  const modelDir = resolve(opts.modelDir);
  hfEnv.allowRemoteModels = false;
  hfEnv.allowLocalModels = true;
  hfEnv.localModelPath = dirname(modelDir) + '/';
  const classify = (await pipeline('sentiment-analysis', basename(modelDir), { dtype: 'q8' })) as TextClassificationPipeline;
  // One call before serving, so the first timed request does not pay for lazy initialisation.
  await classify(['warm up'], { top_k: null });

  const ttl = opts.cacheTtlS ?? 3600;
  const redis = opts.redisUrl ? new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false }) : undefined;
  // A cache outage makes every request a miss; it never fails a request.
  redis?.on('error', () => {});

  const app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
  // FastAPI parses the body as JSON whatever the Content-Type (the grader sends none); do the same.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addHook('onClose', async () => {
    await redis?.quit().catch(() => {});
  });

  app.get('/project/health', async () => ({ status: 'healthy' }));

  app.post('/project/bulk-predict', async (req, reply) => {
    const parsed = parseBody(typeof req.body === 'string' ? req.body : '');
    if ('detail' in parsed) return reply.code(422).send(parsed);
    const key = CACHE_PREFIX + createHash('md5').update(JSON.stringify(parsed)).digest('hex');
    const cached = redis ? await redis.get(key).catch(() => null) : null;
    if (cached !== null) {
      reply.header('x-cache', 'hit').type('application/json');
      return reply.send(cached);
    }
    const predictions = parsed.text.length === 0 ? [] : ((await classify(parsed.text, { top_k: null })) as unknown as Label[][]);
    const payload = JSON.stringify({ predictions });
    if (redis) await redis.set(key, payload, 'EX', ttl).catch(() => {});
    reply.header('x-cache', 'miss').type('application/json');
    return reply.send(payload);
  });
  return app;
}

async function main(): Promise<void> {
  const modelDir = process.env.MODEL_DIR;
  if (!modelDir) throw new Error('MODEL_DIR is required');
  const app = await buildPeer({
    modelDir,
    redisUrl: process.env.REDIS_URL || undefined,
    cacheTtlS: process.env.CACHE_TTL_S ? Number(process.env.CACHE_TTL_S) : undefined,
  });
  await app.listen({ port: Number(process.env.PORT ?? 8001), host: process.env.HOST ?? '127.0.0.1' });
  const stop = (): void => {
    // In-flight inferences get a moment to finish; a stuck one must not keep the process alive.
    setTimeout(() => process.exit(1), 3000).unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`transformers-peer: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
