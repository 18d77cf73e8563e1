import type { ScoreFunction } from '../model-loading/model-config.js';
import { scoreRow } from './score-functions.js';
import { descendingOrder, type Scores } from './scores.js';

/**
 * The one JSON form of a prediction, for one model's labels:
 * `[{"label":"POSITIVE","score":0.99},{"label":"NEGATIVE","score":0.01}]`, every label once, by descending score
 * (ties in label-id order), each number as JSON.stringify writes it. It is what the cache stores (the in-process
 * tier, and Redis inside its signed envelope when there is one) and what bulk-predict and TEI's /predict splice
 * into their bodies as it is; the other protocols build their JSON from the numbers (Scores). Writing the form,
 * reading it back into numbers, and deciding whether a value read from Redis is one this service could have
 * written all live here, so the three cannot drift apart.
 */
export class PredictionCodec {
  /** What the form writes before each label's score. */
  private readonly prefixes: readonly string[];
  private readonly seen: Uint8Array;

  constructor(readonly labels: readonly string[]) {
    this.prefixes = labels.map((label) => `{"label":${JSON.stringify(label)},"score":`);
    this.seen = new Uint8Array(labels.length);
  }

  /** Numbers just computed (label-id order); their JSON is written when first asked for, once. */
  scored(values: Float64Array): Scores {
    return new CodedScores(this, values, undefined);
  }

  /** A value of this form (from the cache); its numbers are read when first asked for, once. */
  stored(encoded: string): Scores {
    return new CodedScores(this, undefined, encoded);
  }

  /** The form of `values` (label-id order), cut to its first `limit` labels (HF's top_k). */
  encode(values: ArrayLike<number>, limit = this.labels.length): string {
    const order = descendingOrder(values);
    const n = Math.min(limit, order.length);
    let json = '[';
    for (let k = 0; k < n; k++) json += (k === 0 ? '' : ',') + this.prefixes[order[k]] + JSON.stringify(values[order[k]]) + '}';
    return json + ']';
  }

  /**
   * Whether a value read from Redis is one this service could have written: anything that can write to Redis
   * could otherwise make the service answer arbitrary bytes, which responses splice in as they are and the
   * in-process tier keeps. Valid: exactly this form for these labels, scores finite in [0, 1] summing to 1, and
   * no other bytes. `raw` (raw scores, TEI's raw_scores): any finite numbers, in the same order.
   */
  check(value: string, raw = false): boolean {
    return this.read(value, true, raw, undefined);
  }

  /** The numbers (label-id order) of a value this codec wrote or checked. */
  decode(encoded: string): Float64Array {
    const values = new Float64Array(this.labels.length);
    if (!this.read(encoded, false, true, values)) throw new Error('not a prediction of this model: it was never checked');
    return values;
  }

  /**
   * Walks a value without JSON.parse, which with the canonical string it was compared against cost ~2 µs a value:
   * most of a Redis-only answer's CPU (a profile under bench:cluster). `strict` checks every rule of check();
   * without it (decode: a value already trusted) a number is read as it is, so a NaN the form wrote as `null`
   * comes back as NaN, as JSON.parse and then JSON.stringify would give `null` again.
   */
  private read(value: string, strict: boolean, raw: boolean, into: Float64Array | undefined): boolean {
    const { prefixes, seen } = this;
    const n = prefixes.length;
    if (value.charCodeAt(0) !== OPEN_BRACKET) return false;
    seen.fill(0);
    let at = 1;
    let sum = 0;
    let previousScore = Number.POSITIVE_INFINITY;
    let previousRank = -1;
    for (let k = 0; k < n; k++) {
      if (k > 0 && value.charCodeAt(at++) !== COMMA) return false;
      let rank = -1;
      for (let i = 0; i < n && rank === -1; i++) if (seen[i] === 0 && value.startsWith(prefixes[i], at)) rank = i;
      if (rank === -1) return false;
      at += prefixes[rank].length;
      const end = value.indexOf('}', at);
      if (end === -1) return false;
      const text = value.slice(at, end);
      const score = Number(text);
      if (strict) {
        // The number exactly as JSON.stringify writes it: no other spelling of the same value.
        if (String(score) !== text) return false;
        if (!(raw ? Number.isFinite(score) : score >= 0 && score <= 1)) return false;
        if (score > previousScore || (score === previousScore && rank < previousRank)) return false;
      }
      if (into) into[rank] = score;
      seen[rank] = 1;
      sum += score;
      previousScore = score;
      previousRank = rank;
      at = end + 1;
    }
    // Float32-rounded softmax sums to 1 within a few ulps; 1e-3 only refuses values that are not a softmax.
    return at === value.length - 1 && value.charCodeAt(at) === CLOSE_BRACKET && (!strict || raw || Math.abs(sum - 1) < 1e-3);
  }
}

/** Scores with whichever side they came with, the other made on first use. */
class CodedScores implements Scores {
  constructor(
    private readonly codec: PredictionCodec,
    private known: Float64Array | undefined,
    private json: string | undefined,
  ) {}

  get labels(): readonly string[] {
    return this.codec.labels;
  }

  get values(): Float64Array {
    return (this.known ??= this.codec.decode(this.json!));
  }

  get encoded(): string {
    return (this.json ??= this.codec.encode(this.known!));
  }
}

/** A row of logits straight into the form, by a score function (the OpenAPI document's examples, the tests). */
export function createPredictionFormatter(
  labels: readonly string[],
  scoreFunction: ScoreFunction = 'softmax',
): (logits: Float32Array, row: number) => string {
  const codec = new PredictionCodec(labels);
  return (logits, row) => codec.encode(scoreRow(scoreFunction, logits, row, labels.length));
}

/** check() of a new codec, as a function. */
export function createPredictionCheck(labels: readonly string[], raw = false): (value: string) => boolean {
  const codec = new PredictionCodec(labels);
  return (value) => codec.check(value, raw);
}

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
