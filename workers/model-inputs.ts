import * as ort from 'onnxruntime-node';
import type { BatchTask } from './protocol.js';
import type { ModelInput } from './session.js';

/** The model's inputs for one batch, and its padded size. */
export interface ModelInputs {
  readonly feeds: Record<string, ort.Tensor>;
  readonly rows: number;
  readonly cols: number;
}

/** What a batch of token ids becomes for one model: its declared inputs, its pad id, its type id. */
export interface InputSpec {
  /** From the session's signature (workers/session.ts modelInputs). */
  readonly inputs: readonly ModelInput[];
  /** input_ids of padding; hidden by the attention mask, and still the model's own (RoBERTa's is 1). */
  readonly padId: number;
  /** token_type_ids of real tokens (a text is one segment); padding gets 0, as transformers pads them. */
  readonly typeId: number;
}

/** The pinned DistilBERT export: int64 input_ids padded with [PAD] = 0, and attention_mask. */
export const DISTILBERT_INPUT_SPEC: InputSpec = {
  inputs: [
    { name: 'input_ids', field: 'ids', type: 'int64' },
    { name: 'attention_mask', field: 'attentionMask', type: 'int64' },
  ],
  padId: 0,
  typeId: 0,
};

/**
 * The one place that turns a batch of token ids into the model's input tensors, [rows, longest] each:
 * input_ids padded with the model's pad id, attention_mask (1 on real tokens, 0 on padding) and, when the
 * model takes it, token_type_ids (a pair's own, else the single-text type id); each in the integer type the model declares. Padding to the batch's longest
 * text, not to maxTokens: attention cost grows with the padded length.
 */
export function buildModelInputs({ ids, lengths, typeIds }: BatchTask, spec: InputSpec = DISTILBERT_INPUT_SPEC): ModelInputs {
  const rows = lengths.length;
  let cols = 0;
  for (const length of lengths) cols = Math.max(cols, length);
  const wantsTypes = spec.inputs.some((input) => input.field === 'typeIds');
  const values = {
    ids: new Int32Array(rows * cols).fill(spec.padId),
    attentionMask: new Int32Array(rows * cols),
    typeIds: new Int32Array(wantsTypes ? rows * cols : 0),
  };
  let offset = 0;
  for (let r = 0; r < rows; r++) {
    const length = lengths[r];
    const start = r * cols;
    values.ids.set(ids.subarray(offset, offset + length), start);
    values.attentionMask.fill(1, start, start + length);
    if (wantsTypes) {
      if (typeIds) values.typeIds.set(typeIds.subarray(offset, offset + length), start);
      else values.typeIds.fill(spec.typeId, start, start + length);
    }
    offset += length;
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of spec.inputs) feeds[input.name] = tensor(input.type, values[input.field], rows, cols);
  return { feeds, rows, cols };
}

function tensor(type: ModelInput['type'], data: Int32Array, rows: number, cols: number): ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', data, [rows, cols]);
  const wide = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) wide[i] = BigInt(data[i]);
  return new ort.Tensor('int64', wide, [rows, cols]);
}
