import type * as ort from 'onnxruntime-node';

/**
 * A session whose memory comes back after a large batch. ONNX Runtime's CPU arena grows to the largest batch a
 * session has run (~500 MiB after 8 x 512 tokens) and keeps it; onnxruntime-node 1.30 exposes neither the run
 * option that shrinks it (memory.enable_memory_arena_shrinkage: its run options take no config entries) nor the
 * arena's extend strategy, and running without the arena cost up to ~10% of throughput (0.3-10% on 16 x 16
 * and 16 x 32 batches in alternating runs: docs/performance.md, "Answered once"). So the arena stays, and a session that ran a large batch is released and created
 * anew once its thread has been idle for `idleMs`: a busy thread never pays for it, and an idle pod gives the
 * memory back. A batch that arrives during the re-creation waits for it (~0.2 s on an idle core).
 */
export class RecyclingSession {
  private session: Promise<ort.InferenceSession>;
  private grown = false;
  private timer: NodeJS.Timeout | undefined;
  /** Times the session was re-created (for tests and logs). */
  recycled = 0;

  constructor(
    private readonly create: () => Promise<ort.InferenceSession>,
    /** A batch is large when rows x longest^2 (its attention's size) exceeds this. */
    private readonly largeBatch: number,
    private readonly idleMs: number,
  ) {
    this.session = create();
  }

  async run(
    feeds: Record<string, ort.Tensor>,
    rows: number,
    cols: number,
    options: ort.InferenceSession.RunOptions,
  ): Promise<ort.InferenceSession.ReturnType> {
    clearTimeout(this.timer);
    const session = await this.session;
    try {
      return await session.run(feeds, options);
    } finally {
      if (rows * cols * cols > this.largeBatch) this.grown = true;
      if (this.grown) {
        this.timer = setTimeout(() => this.recycle(), this.idleMs);
        // The timer must not keep the thread alive; piscina decides its lifetime.
        this.timer.unref();
      }
    }
  }

  /** The session now (for its input and output names). */
  current(): Promise<ort.InferenceSession> {
    return this.session;
  }

  /** Gives the session back for good (the thread's layout no longer holds it). */
  async release(): Promise<void> {
    clearTimeout(this.timer);
    await (await this.session).release();
  }

  private recycle(): void {
    this.grown = false;
    this.recycled++;
    const old = this.session;
    this.session = old.then(async (session) => {
      await session.release();
      return this.create();
    });
  }
}
