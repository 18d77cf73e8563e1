/** One measured model run. */
export interface CostSample {
  readonly rows: number;
  /** Padded length (the longest row). */
  readonly cols: number;
  readonly ms: number;
}

/** Features of a run's cost: fixed overhead, per-token work (embeddings, projections, FFN), attention. */
const features = (rows: number, cols: number): [number, number, number] => [1, rows * cols, rows * cols * cols];

/** Weight of the newest run in the drift factor: a few dozen runs follow a machine that got busier. */
const DRIFT_WEIGHT = 0.05;
/** Weight of the newest batch in the packing factor (about a second of batches under overload). */
const PACKING_WEIGHT = 0.05;
/**
 * Least fixed cost of a run, ms: handing a batch to a worker thread and back, building its tensors, and the
 * session's per-run overhead. A noisy fit can put the fixed term at 0, and then running texts one by one
 * looks as cheap as batching them.
 */
const MIN_FIXED_MS = 1;

/**
 * The model's run time on this machine, cost(rows, cols) in ms = a + b·rows·cols + c·rows·cols², fitted by
 * least squares to runs of a few shapes at warm-up, and kept current by a drift factor: the ratio of
 * measured to predicted time over recent runs (a shared machine slows down and speeds up). A run is measured
 * as the dispatcher sees it, from handing the batch to a thread to reading its answer on the event loop: the
 * time the thread was not free for the next batch, which is what the queue drains at. Under a saturated event
 * loop that is ~5 % more than the worker's own inference time (inference/dispatcher.ts).
 *
 * The queue's drain time (workOf) also needs how its texts will be batched; it assumes length-sorted batches
 * of a typical size without padding, corrected by a packing factor learnt from the batches actually formed.
 */
export class CostModel {
  private drift = 1;
  /** Moving means of what recent batches cost and of what workOf charged for their texts (packed()). */
  private packedRunMs = 0;
  private packedIdealMs = 0;

  private constructor(private coefficients: readonly [number, number, number]) {}

  /** Fits the model to calibration runs (at least three distinct shapes). */
  static fit(samples: readonly CostSample[]): CostModel {
    return new CostModel(fitCoefficients(samples));
  }

  /** A model from coefficients (tests, and a prior before calibration). */
  static of(coefficients: readonly [number, number, number]): CostModel {
    return new CostModel(coefficients);
  }

  /** Replaces the coefficients with a fit to these runs (the workers' warm-up) and forgets the drift. */
  calibrate(samples: readonly CostSample[]): void {
    this.coefficients = fitCoefficients(samples);
    this.drift = 1;
    this.packedRunMs = 0;
    this.packedIdealMs = 0;
  }

  /** Predicted ms of one run of `rows` texts padded to `cols` tokens. */
  cost(rows: number, cols: number): number {
    const [a, b, c] = this.coefficients;
    return (a + b * rows * cols + c * rows * cols * cols) * this.drift;
  }

  /**
   * Predicted ms to run `texts` texts of Σlen `tokens` and Σlen² `squares` in length-sorted batches of `rows`
   * without padding, times the packing factor (see packed()): the queue's drain time on one thread, in O(1).
   */
  workOf(texts: number, tokens: number, squares: number, rows: number): number {
    if (texts === 0) return 0;
    const [a, b, c] = this.coefficients;
    return (Math.ceil(texts / rows) * a + b * tokens + c * squares) * this.drift * this.packing;
  }

  /**
   * A batch taken from a queue that kept texts back (a backed-up queue: the batches that its drain time is
   * made of): `rows` texts of Σlen `tokens` and Σlen² `squares`, padded to `cols`. Moves the packing factor
   * toward what such batches cost over what workOf charged for their texts (a rows/`typicalRows` share of one
   * run's fixed cost, no padding). Under overload the oldest request's texts run in batches of their own
   * (inference/queue.ts lengths()), smaller than `typicalRows` and cut by length: 1.07–1.08× what workOf charged
   * under an overload probe, by which much (with the drift's ~5 %, see observe()) admission under-predicted the wait.
   */
  packed(rows: number, cols: number, tokens: number, squares: number, typicalRows: number): void {
    const [a, b, c] = this.coefficients;
    const run = a + b * rows * cols + c * rows * cols * cols;
    const charged = (a * rows) / typicalRows + b * tokens + c * squares;
    if (!(charged > 0)) return;
    // The first batch finds a past of batches that cost what workOf charged: one batch moves the factor little.
    if (this.packedIdealMs === 0) this.packedRunMs = this.packedIdealMs = charged;
    this.packedRunMs += PACKING_WEIGHT * (run - this.packedRunMs);
    this.packedIdealMs += PACKING_WEIGHT * (charged - this.packedIdealMs);
  }

  /** What recent batches of a backed-up queue cost over what workOf charged for their texts (1 until one ran). */
  get packing(): number {
    return this.packedIdealMs > 0 ? this.packedRunMs / this.packedIdealMs : 1;
  }

  /** A measured run (the thread time it took, see the class comment): moves the drift factor toward measured / predicted. */
  observe(rows: number, cols: number, ms: number): void {
    const predicted = this.cost(rows, cols) / this.drift;
    if (!(predicted > 0) || !(ms > 0)) return;
    const ratio = Math.min(20, Math.max(0.05, ms / predicted));
    this.drift += DRIFT_WEIGHT * (ratio - this.drift);
  }

  get coefficientsAndDrift(): { a: number; b: number; c: number; drift: number; packing: number } {
    const [a, b, c] = this.coefficients;
    return { a, b, c, drift: this.drift, packing: this.packing };
  }
}

/** Least squares over the 3 features (normal equations); a negative coefficient (noise) is clamped to 0. */
function fitCoefficients(samples: readonly CostSample[]): [number, number, number] {
  const m = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const v = [0, 0, 0];
  for (const s of samples) {
    const x = features(s.rows, s.cols);
    for (let i = 0; i < 3; i++) {
      v[i] += x[i] * s.ms;
      for (let j = 0; j < 3; j++) m[i][j] += x[i] * x[j];
    }
  }
  const solved = solve3(m, v);
  if (solved === undefined) throw new Error(`cannot fit the cost model to ${samples.length} runs`);
  return [Math.max(MIN_FIXED_MS, solved[0]), Math.max(0, solved[1]), Math.max(0, solved[2])];
}

/** Solves the 3x3 system m·x = v (Gaussian elimination with partial pivoting). */
function solve3(m: number[][], v: number[]): number[] | undefined {
  const a = m.map((row, i) => [...row, v[i]]);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) < 1e-12) return undefined;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = a[r][col] / a[col][col];
      for (let k = col; k < 4; k++) a[r][k] -= f * a[col][k];
    }
  }
  return [a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]];
}
