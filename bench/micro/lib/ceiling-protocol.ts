// Messages between ceiling.ts and its threads (ceiling-worker.ts, cpu-burner.ts).

export interface CeilingWorkerData {
  modelPath: string;
  tokenizerPath: string;
  intraOpThreads: number;
  /** Spinning threads (a session that runs alone: workers/session.ts sessionOptions); off when absent. */
  spin?: boolean;
  maxTokens: number;
  /** This thread's pool of texts, used round robin. */
  texts: string[];
}

export type CeilingCommand =
  | {
      type: 'run';
      batchSize: number;
      durationMs: number;
      tokenize: boolean;
      /**
       * Without tokenization: how many distinct batches are packed up front and run in turn (default 1, the same
       * batch again and again). One batch measures one set of lengths; several measure the pool's.
       */
      distinct?: number;
    }
  | { type: 'exit' };

export type CeilingReply =
  | { type: 'ready' }
  | { type: 'done'; sentences: number; batches: number; elapsedMs: number; batchMs: number[] }
  | { type: 'error'; message: string };

export interface BurnerWorkerData {
  /** Share of one core to keep busy, 0..1. */
  share: number;
  /** Int32Array over a SharedArrayBuffer: [0] set to 1 stops the thread. */
  stop: SharedArrayBuffer;
}
