// A batch of token ids becomes the tensors the model declares: its input names, its integer type, its pad id.
import t from 'tap';
import { buildModelInputs } from '../../dist/workers/model-inputs.js';
import { modelInputs } from '../../dist/workers/session.js';
import { packBatch } from '../../dist/workers/protocol.js';

const batch = packBatch([Int32Array.of(0, 713, 2), Int32Array.of(0, 2)]);
const meta = (name: string, type = 'int64') => ({ name, isTensor: true as const, type, shape: ['batch_size', 'sequence_length'] });

t.test('RoBERTa-style: padded with its pad id 1, int64, no token_type_ids', async (t) => {
  const inputs = modelInputs('m.onnx', [meta('input_ids'), meta('attention_mask')] as never);
  const { feeds, rows, cols } = buildModelInputs(batch, { inputs, padId: 1, typeId: 0 });
  t.same([rows, cols], [2, 3]);
  t.same(Object.keys(feeds), ['input_ids', 'attention_mask']);
  t.equal(feeds.input_ids.type, 'int64');
  t.same(Array.from(feeds.input_ids.data as BigInt64Array, Number), [0, 713, 2, 0, 2, 1], 'the short row ends with pad id 1');
  t.same(Array.from(feeds.attention_mask.data as BigInt64Array, Number), [1, 1, 1, 1, 1, 0]);
  t.same(feeds.input_ids.dims, [2, 3]);
});

t.test("int32 inputs stay int32; token_type_ids carry the tokenizer's type id on real tokens and 0 on padding", async (t) => {
  const inputs = modelInputs('m.onnx', [
    meta('input_ids', 'int32'),
    meta('token_type_ids', 'int32'),
    meta('attention_mask', 'int32'),
  ] as never);
  const { feeds } = buildModelInputs(batch, { inputs, padId: 0, typeId: 1 });
  t.same(Object.keys(feeds), ['input_ids', 'token_type_ids', 'attention_mask'], 'the order the model declares');
  t.equal(feeds.input_ids.type, 'int32');
  t.same(Array.from(feeds.input_ids.data as Int32Array), [0, 713, 2, 0, 2, 0]);
  t.same(Array.from(feeds.token_type_ids.data as Int32Array), [1, 1, 1, 1, 1, 0]);
  t.same(Array.from(feeds.attention_mask.data as Int32Array), [1, 1, 1, 1, 1, 0]);
});

t.test("a text pair's type ids reach token_type_ids; single texts batched with it get the single-text type id", async (t) => {
  const inputs = modelInputs('m.onnx', [meta('input_ids'), meta('attention_mask'), meta('token_type_ids')] as never);
  const mixed = packBatch([{ ids: Int32Array.of(101, 7, 102, 8, 102), typeIds: Int32Array.of(0, 0, 0, 1, 1) }, Int32Array.of(101, 102)], 0);
  const { feeds } = buildModelInputs(mixed, { inputs, padId: 0, typeId: 0 });
  t.same(Array.from(feeds.token_type_ids.data as BigInt64Array, Number), [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
  t.same(Array.from(feeds.attention_mask.data as BigInt64Array, Number), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
  t.equal(packBatch([Int32Array.of(1, 2)]).typeIds, undefined, 'a batch of single texts carries no type ids');
});

t.test('a signature the server cannot fill is refused, naming the input', async (t) => {
  t.throws(
    () => modelInputs('m.onnx', [meta('input_ids'), meta('attention_mask'), meta('position_ids')] as never),
    /m\.onnx has an input "position_ids" that this server cannot fill/,
  );
  t.throws(
    () => modelInputs('m.onnx', [meta('input_ids', 'float32'), meta('attention_mask')] as never),
    /declares its input "input_ids" as float32/,
  );
  t.throws(() => modelInputs('m.onnx', [meta('input_ids')] as never), /expected input_ids and attention_mask/);
});
