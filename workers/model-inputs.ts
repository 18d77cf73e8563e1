import * as ort from 'onnxruntime-node';
import type { BatchTask } from './protocol.js';

/** The model's inputs for one batch, and its padded size. */
export interface ModelInputs {
  readonly feeds: Record<string, ort.Tensor>;
  readonly rows: number;
  readonly cols: number;
}

/** [PAD] of the BERT vocabulary; hidden by the attention mask, so any valid id would give the same logits. */
export const PAD_ID = 0n;

/**
 * The one place that turns a batch of token ids into the model's input tensors: int64 [rows, longest]
 * input_ids padded with PAD_ID and the attention_mask (1 on real tokens, 0 on padding). Padding to the
 * batch's longest text, not to maxTokens: attention cost grows with the padded length.
 */
export function buildModelInputs({ ids, lengths }: BatchTask): ModelInputs {
  const rows = lengths.length;
  let cols = 0;
  for (const length of lengths) cols = Math.max(cols, length);
  const inputIds = new BigInt64Array(rows * cols).fill(PAD_ID);
  const attentionMask = new BigInt64Array(rows * cols);
  let offset = 0;
  for (let r = 0; r < rows; r++) {
    const length = lengths[r];
    for (let c = 0; c < length; c++) {
      inputIds[r * cols + c] = BigInt(ids[offset + c]);
      attentionMask[r * cols + c] = 1n;
    }
    offset += length;
  }
  return {
    feeds: {
      input_ids: new ort.Tensor('int64', inputIds, [rows, cols]),
      attention_mask: new ort.Tensor('int64', attentionMask, [rows, cols]),
    },
    rows,
    cols,
  };
}
