// The ceiling's threads, driven from the main thread: start them, run them all at once, stop them.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { percentile } from '../../lib/stats.js';
import type { BurnerWorkerData, CeilingCommand, CeilingReply, CeilingWorkerData } from './ceiling-protocol.js';

const WORKER_URL = new URL('./ceiling-worker.js', import.meta.url);
const BURNER_URL = new URL('./cpu-burner.js', import.meta.url);

export interface CeilingResult {
  batchSize: number;
  tokenize: boolean;
  threads: number;
  /** Sentences per second over the wall time of the slowest thread. */
  sentencesPerS: number;
  batches: number;
  /** Median and p99 time of one batch on one thread, ms. */
  batchP50Ms: number;
  batchP99Ms: number;
  /** Cores this process used meanwhile (sessions, tokenizer threads, and the burner if any). */
  cpu: number;
  /** Share of a core the burner was asked to keep busy (0 when none ran). */
  burnerShare: number;
}

function reply(worker: Worker): Promise<CeilingReply> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      worker.off('message', onMessage);
      reject(err);
    };
    const onMessage = (msg: CeilingReply): void => {
      worker.off('error', onError);
      if (msg.type === 'error') reject(new Error(`ceiling thread: ${msg.message}`));
      else resolve(msg);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}

export class CeilingPool {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `threads` threads (each loads and warms its session); `texts[i]` is thread i's pool. */
  static async start(base: Omit<CeilingWorkerData, 'texts'>, texts: string[][]): Promise<CeilingPool> {
    const workers = texts.map((pool) => new Worker(WORKER_URL, { workerData: { ...base, texts: pool } satisfies CeilingWorkerData }));
    const pool = new CeilingPool(workers);
    try {
      await Promise.all(workers.map(reply));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Every thread loops over batches of `batchSize` for `durationS`; optionally beside a CPU burner. Without
   * tokenization each thread runs `distinct` batches packed up front, in turn.
   */
  async run(batchSize: number, durationS: number, tokenize: boolean, burnerShare = 0, distinct = 1): Promise<CeilingResult> {
    const stop = new SharedArrayBuffer(4);
    const burner =
      burnerShare > 0 ? new Worker(BURNER_URL, { workerData: { share: burnerShare, stop } satisfies BurnerWorkerData }) : undefined;
    if (burner) await once(burner, 'online');
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const command: CeilingCommand = { type: 'run', batchSize, durationMs: durationS * 1000, tokenize, distinct };
    let replies: CeilingReply[];
    try {
      replies = await Promise.all(
        this.workers.map((w) => {
          const done = reply(w);
          w.postMessage(command);
          return done;
        }),
      );
    } finally {
      if (burner) {
        const flag = new Int32Array(stop);
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
        await once(burner, 'exit');
      }
    }
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const done = replies.filter((r): r is Extract<CeilingReply, { type: 'done' }> => r.type === 'done');
    const sentences = done.reduce((n, r) => n + r.sentences, 0);
    const slowestS = Math.max(...done.map((r) => r.elapsedMs)) / 1000;
    const batchMs = done.flatMap((r) => r.batchMs).sort((a, b) => a - b);
    return {
      batchSize,
      tokenize,
      threads: this.workers.length,
      sentencesPerS: sentences / slowestS,
      batches: batchMs.length,
      batchP50Ms: percentile(batchMs, 50),
      batchP99Ms: percentile(batchMs, 99),
      cpu: (cpu.user + cpu.system) / 1e6 / wallS,
      burnerShare,
    };
  }

  /**
   * Ends the threads between runs. Terminating a thread inside ONNX Runtime's synchronous run aborts the
   * process, so each is asked to exit and only terminated if it has not within 10 s.
   */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.threadId === -1) return;
        const exited = once(w, 'exit').catch(() => undefined);
        w.postMessage({ type: 'exit' } satisfies CeilingCommand);
        const timer = setTimeout(() => void w.terminate(), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
