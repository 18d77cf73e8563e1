// A session that ran a large batch is re-created once idle, so ONNX Runtime's arena gives its memory back;
// small batches never trigger it, and a batch arriving during the re-creation waits for it and succeeds.
import t from 'tap';
import { join } from 'node:path';
import { RecyclingSession } from '../../dist/workers/recycling-session.js';
import { createSession } from '../../dist/workers/session.js';
import { buildModelInputs } from '../../dist/workers/model-inputs.js';
import { packBatch } from '../../dist/workers/protocol.js';
import { STANDIN_MODEL_DIR } from '../helper.js';

const MODEL = join(STANDIN_MODEL_DIR, 'onnx', 'model_quantized.onnx');
const batch = (rows: number, cols: number) =>
  buildModelInputs(packBatch(Array.from({ length: rows }, () => new Int32Array(cols).fill(1000))));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('re-created after idleMs following a large batch, never after small ones', async (t) => {
  const session = new RecyclingSession(() => createSession(MODEL, 1), 4 * 64 * 64, 200);
  const run = async (rows: number, cols: number) => {
    const { feeds } = batch(rows, cols);
    const out = await session.run(feeds, rows, cols, {});
    return Array.from(out.logits.data as Float32Array);
  };
  const before = await run(1, 16);
  await run(4, 64); // exactly the threshold: not large
  await sleep(400);
  t.equal(session.recycled, 0, 'small batches keep the session');
  const first = await session.current();
  await run(4, 65);
  await run(1, 8); // a small batch after a large one still counts toward the idle re-creation
  await sleep(400);
  t.equal(session.recycled, 1, 'idle after a large batch: re-created once');
  t.same(await run(1, 16), before, 'the new session gives the same logits');
  t.not(await session.current(), first, 'a new session object');
  await sleep(400);
  t.equal(session.recycled, 1, 'not again without another large batch');
  await run(4, 65);
  await sleep(230); // the re-creation has just begun
  t.equal(session.recycled, 2);
  t.same(await run(1, 16), before, 'a batch arriving during the re-creation waits for the new session');
});
