// A changed model file changes the model id in every cache key, so a new model never serves old scores.
import t from 'tap';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { postPredict, startRedis, startService, STANDIN_MODEL_DIR, waitFor } from './helper.js';

/** The stand-in with a different .onnx file: the same graph plus an unknown protobuf field, which ONNX ignores. */
function changedModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'changed-model-'));
  for (const file of ['config.json', 'tokenizer.json']) symlinkSync(join(STANDIN_MODEL_DIR, file), join(dir, file));
  mkdirSync(join(dir, 'onnx'));
  const onnx = join(dir, 'onnx', 'model_quantized.onnx');
  copyFileSync(join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx'), onnx);
  // Field 100, varint 1: tag (100 << 3 | 0) = 800 = 0xa0 0x06.
  appendFileSync(onnx, Buffer.from([0xa0, 0x06, 0x01]));
  return dir;
}

t.test('the same text under a changed model file is stored under another model id', async (t) => {
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  t.teardown(async () => {
    redis.disconnect();
    await redisServer.stop();
  });
  const modelIds: string[] = [];
  for (const modelDir of [STANDIN_MODEL_DIR, changedModelDir()]) {
    const service = await startService({ MODEL_DIR: modelDir, REDIS_URL: redisServer.url });
    const res = await postPredict(service.url, { text: ['the same text'] });
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-cache'), 'miss', 'the other model id is a miss');
    modelIds.push(/"modelId":"([0-9a-f]+)"/.exec(service.output())![1]);
    await service.stop();
  }
  t.not(modelIds[0], modelIds[1], 'the model id follows the model file');
  await waitFor(async () => (await redis.dbsize()) === 2, 5_000, 'two keys');
  const keyIds = (await redis.keys('*')).map((k) => k.split('::')[1]).sort();
  t.same(keyIds, [...modelIds].sort(), 'each key carries its model id');
});
