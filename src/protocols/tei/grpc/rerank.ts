import { Errors } from '../../../errors.js';
import type { Rank, RerankOptions, RerankPair } from '../rerank.js';
import type { Metadata, RerankRequest, RerankResponse, RerankStreamRequest } from './messages.js';
import { checkTruncationDirection } from './predict.js';

/** Rerank's request as ../rerank.ts takes it. */
export function rerankCallOf(request: RerankRequest) {
  checkTruncationDirection(request.truncation_direction);
  return {
    query: request.query,
    texts: request.texts,
    truncate: request.truncate,
    rawScores: request.raw_scores,
    returnText: request.return_text,
  };
}

/**
 * RerankStream's messages, gathered as they arrive into the pairs of one ranking: each message is a pair with
 * its own query and truncate; raw_scores and return_text are the first message's (as TEI's proto says). The
 * ranking is one request, so the client batch limit holds for the stream's length, refused as soon as it is past.
 */
export class RerankStreamPairs {
  readonly pairs: RerankPair[] = [];
  private first: RerankOptions | undefined;

  constructor(private readonly maxBatch: number) {}

  add(message: RerankStreamRequest): void {
    checkTruncationDirection(message.truncation_direction);
    if (this.pairs.length === this.maxBatch) throw Errors.BatchTooLarge(this.pairs.length + 1, this.maxBatch);
    this.first ??= { rawScores: message.raw_scores, returnText: message.return_text };
    this.pairs.push({ query: message.query, text: message.text, truncate: message.truncate });
  }

  /** The first message's options; a stream of no message has no pair to rank. */
  get options(): RerankOptions {
    if (this.first === undefined) throw Errors.TextsEmpty();
    return this.first;
  }
}

export function rerankResponseOf(ranks: readonly Rank[], metadata: Metadata): RerankResponse {
  return { ranks, metadata };
}
