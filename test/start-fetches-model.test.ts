// With MODEL_DIR unset and no model in model/, the service fetches the pinned model before it starts, and
// refuses weights whose hash is not the pinned one. The local hub serves the stand-in, whose ONNX file is
// (rightly) not the real model's.
import t from 'tap';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { defaultModelDir } from '../dist/model/paths.js';
import { startService } from './helper.js';
import { startHubServer } from './fixtures/hub-server.js';

t.test(
  'npm start without MODEL_DIR fetches from HF_ENDPOINT and refuses a model that fails its pin',
  { skip: existsSync(defaultModelDir) ? 'a model is already in model/; not touching it' : false },
  async (t) => {
    const hub = await startHubServer();
    t.teardown(async () => {
      await hub.close();
      rmSync(defaultModelDir, { recursive: true, force: true });
    });
    const service = await startService({ MODEL_DIR: '', HF_ENDPOINT: hub.url }, { waitHealthy: false });
    const [code] = await once(service.child, 'exit');
    t.equal(code, 1, 'exits non-zero');
    t.match(service.output(), /fetching it from the hub/);
    t.match(service.output(), /INF_ERR_MODEL_FETCH/);
    t.match(service.output(), /set MODEL_DIR to a model directory you have/);
    t.same([...new Set(hub.requests.map((r) => r.path))].sort(), [
      'config.json',
      'onnx/model_quantized.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    t.match(service.output(), /model_quantized\.onnx/);
    t.match(service.output(), /size mismatch: expected 67581197 bytes/, 'names the pinned size');
    t.notOk(existsSync(join(defaultModelDir, 'onnx', 'model_quantized.onnx')), 'no unverified model file is left in place');
    t.ok(existsSync(join(defaultModelDir, 'tokenizer.json')), 'the tokenizer, byte-identical to the real one, passed its pin');
  },
);

t.test('with MODEL_DIR set the service never downloads', async (t) => {
  const hub = await startHubServer();
  t.teardown(() => hub.close());
  const service = await startService({ MODEL_DIR: '/nonexistent/model', HF_ENDPOINT: hub.url }, { waitHealthy: false });
  const [code] = await once(service.child, 'exit');
  t.equal(code, 1);
  t.equal(hub.requests.length, 0, 'no request reached the hub');
});

const skipIfModel = { skip: existsSync(defaultModelDir) ? 'a model is already in model/; not touching it' : false };

t.test('SIGTERM during the model fetch exits 0 at once, saying so', skipIfModel, async (t) => {
  const hub = await startHubServer({ interrupt: { path: 'tokenizer.json', bytes: 4096 } });
  t.teardown(async () => {
    await hub.close();
    rmSync(defaultModelDir, { recursive: true, force: true });
  });
  const service = await startService({ MODEL_DIR: '', HF_ENDPOINT: hub.url }, { waitHealthy: false });
  t.teardown(() => service.stop('SIGKILL'));
  await hub.stalled;
  t.equal(await service.stop('SIGTERM'), 0, 'exit code 0');
  t.match(service.output(), /"signal":"SIGTERM".*"msg":"shutdown requested"/);
  t.match(service.output(), /"msg":"stopped during the model fetch"/);
  t.notMatch(service.output(), /INF_ERR_MODEL_FETCH/, 'a stop is not reported as a failed fetch');
});
