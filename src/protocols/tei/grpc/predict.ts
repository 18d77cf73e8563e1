import { performance } from 'node:perf_hooks';
import type { TextInput } from '../../../cache/cache-key.js';
import { Errors } from '../../../errors.js';
import type { PredictOptions, Prediction } from '../../../inference/predictor.js';
import { descendingOrder, type Scores } from '../../../inference/scores.js';
import { leftTruncationRefused } from '../truncation-direction.js';
import { codePoints } from '../../../../workers/exact-tokenizer.js';
import type { Metadata, PredictPairRequest, PredictRequest, PredictResponse, TruncationDirection } from './messages.js';

/** A tei.v1 prediction request as the predictor takes it: the input, and TEI's truncate and raw_scores. */
export interface PredictCall {
  readonly input: TextInput;
  readonly options: PredictOptions;
}

export function predictCallOf(request: PredictRequest): PredictCall {
  return { input: request.inputs, options: optionsOf(request) };
}

/** PredictPair's `inputs`: one text, or a pair (text, text_pair), as TEI reads them; any other count is refused. */
export function predictPairCallOf(request: PredictPairRequest): PredictCall {
  const { inputs } = request;
  if (inputs.length !== 1 && inputs.length !== 2) {
    // TEI's message, word for word.
    throw Errors.InputInvalid(`\`inputs\` must have a single or two elements. Given: ${inputs.length}`);
  }
  return { input: inputs.length === 1 ? inputs[0] : [inputs[0], inputs[1]], options: optionsOf(request) };
}

function optionsOf(request: PredictRequest | PredictPairRequest): PredictOptions {
  checkTruncationDirection(request.truncation_direction);
  return { raw: request.raw_scores, truncate: request.truncate };
}

/** Right (the default) is what this server cuts; Left is refused, as on the HTTP route; another value is no direction. */
export function checkTruncationDirection(direction: TruncationDirection): void {
  if (direction === 'TRUNCATION_DIRECTION_RIGHT') return;
  if (direction === 'TRUNCATION_DIRECTION_LEFT') throw leftTruncationRefused();
  throw Errors.InputInvalid(`truncation_direction: unknown value ${direction}; send TRUNCATION_DIRECTION_RIGHT or leave it out`);
}

/** One input's scores as TEI's PredictResponse: every label with its score (or logit), by descending score. */
export function predictResponseOf(scores: Scores, metadata: Metadata): PredictResponse {
  const predictions = descendingOrder(scores.values).map((id) => ({ score: scores.values[id], label: scores.labels[id] }));
  return { predictions, metadata };
}

/**
 * TEI's Metadata of an answer. compute_tokens and tokenization_time_ns are 0: an answer from the cache was never
 * tokenized, and the predictor reports its texts' queue and model time, not their tokens.
 */
export function metadataOf(inputs: readonly TextInput[], predictions: readonly Prediction[], startedAt: number): Metadata {
  let chars = 0;
  for (const input of inputs) chars += typeof input === 'string' ? codePoints(input) : codePoints(input[0]) + codePoints(input[1]);
  return {
    compute_chars: chars,
    compute_tokens: 0,
    total_time_ns: nanoseconds(performance.now() - startedAt),
    tokenization_time_ns: 0,
    queue_time_ns: nanoseconds(Math.max(0, ...predictions.map((p) => p.queueMs))),
    inference_time_ns: nanoseconds(Math.max(0, ...predictions.map((p) => p.inferenceMs))),
  };
}

function nanoseconds(ms: number): number {
  return Math.round(ms * 1e6);
}
