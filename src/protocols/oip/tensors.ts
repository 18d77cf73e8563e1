// The tensors of an inference request and its answer, the same over HTTP and gRPC: a BYTES input of texts, shaped
// [n] or [n, 1]; out `scores` (FP32 [n, labels], each row in label-id order) and `label` (BYTES [n], each text's
// most probable label, the first by id on a tie), from the prediction's typed scores.
import { Errors } from '../../errors.js';
import type { Prediction } from '../../inference/predictor.js';
import { descendingOrder } from '../../inference/scores.js';
import type { OipModel } from './model.js';

export type OipOutputName = 'scores' | 'label';
export const OIP_OUTPUT_NAMES: readonly OipOutputName[] = ['scores', 'label'];

/** Refuses a text tensor whose shape does not hold its texts, or that holds more than `maxTexts`. */
export function checkTextTensor(shape: readonly number[], texts: number, maxTexts: number, field = 'inputs[0]'): void {
  // [n], or [n, 1] as Triton's clients send a batch of single strings.
  const elements = shape.reduce((product, n) => product * n, 1);
  if (shape.length < 1 || shape.length > 2 || (shape.length === 2 && shape[1] !== 1) || elements !== texts) {
    throw Errors.InvalidInput(`${field}.shape ${JSON.stringify(shape)} does not fit ${texts} texts: send [${texts}]`);
  }
  if (texts > maxTexts) throw Errors.InvalidInput(`${field} has ${texts} texts; at most ${maxTexts} are accepted`);
}

/** The outputs asked for, in the order asked, each once; both when the request names none. */
export function requestedOutputs(names: readonly OipOutputName[] | undefined): readonly OipOutputName[] {
  return names && names.length > 0 ? [...new Set(names)] : OIP_OUTPUT_NAMES;
}

/** The answer's tensors: every text's scores, row after row in label-id order, and its top label. */
export interface OipOutputs {
  /** [n, labels] row-major. */
  readonly scores: number[];
  readonly labels: string[];
  /** [n, labels]. */
  readonly scoresShape: readonly [number, number];
}

export function oipOutputs(model: OipModel, prediction: Prediction): OipOutputs {
  const width = model.labels.length;
  const n = prediction.predictions.length;
  const scores = new Array<number>(n * width);
  const labels: string[] = [];
  prediction.predictions.forEach(({ values }, row) => {
    for (let i = 0; i < width; i++) scores[row * width + i] = values[i];
    labels.push(model.labels[descendingOrder(values)[0]]);
  });
  return { scores, labels, scoresShape: [n, width] };
}
