import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Errors, RequestError } from '../errors.js';
import type { ThreadLayout } from '../inference/thread-layout.js';
import type { CalibrationRun } from '../../workers/protocol.js';
import type { ReadModel } from './read-model.js';
import { listRepository, type ModelSource, sourceOf } from './repository-dir.js';
import { createServedModel, type ModelParts, poolModelOf, type ServedModel, type SharedParts } from './served-model.js';

/** A model's state in the repository index (Triton's and KServe's names). */
export type ModelState = 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';

/** One row of POST /v2/repository/index. */
export interface IndexEntry {
  readonly name: string;
  /** The version served (or last tried); '' for a model never loaded. */
  readonly version: string;
  readonly state: ModelState;
  /** Why it is not READY ('' when it is, or when it was never loaded). */
  readonly reason: string;
}

/** The served models by name, as every protocol's routes find them. */
export interface ModelLookup {
  /** The model of the routes that name none (DEFAULT_MODEL). */
  readonly defaultName: string;
  /** A model that is READY, by name; undefined while it is not (unknown, loading for the first time, unloaded). */
  get(name: string): ServedModel | undefined;
  /** The READY models, the default first. */
  served(): readonly ServedModel[];
}

/** A name's entry: what it serves now, and where a load or unload of it stands. */
interface Entry {
  parts: ModelParts | undefined;
  state: ModelState;
  version: string;
  reason: string;
}

export interface RepositoryOptions {
  /** MODEL_REPOSITORY; undefined when MODEL_DIR alone is served (then nothing is loaded live). */
  readonly root: string | undefined;
  readonly defaultName: string;
  readonly shared: SharedParts;
  readonly layout: ThreadLayout;
  readonly logger: Logger;
  /** MODEL_MEMORY_BUDGET_MB in bytes; undefined: no budget. */
  readonly memoryBudgetBytes: number | undefined;
  /** Reads a model's directory (ModelInfo, its settings, the per-row rewrite). */
  readonly read: (source: ModelSource) => Promise<ReadModel>;
  /** The process's resident bytes now (process.memoryUsage.rss; tests may substitute). */
  readonly rss: () => number;
}

/**
 * Resident bytes a model costs per thread and per byte of what the threads run (its ONNX file, or the per-row
 * rewrite), what a load is predicted to cost before it runs: the stand-in int8 DistilBERT (66 MiB) loaded live on
 * two threads grew the process by 461 MiB, and by 496 MiB once a 64-text batch had run (3.6 per thread and byte;
 * docs/models.md#memory).
 */
const SESSION_BYTES_PER_MODEL_BYTE = 3.6;

/**
 * The models the process serves, by name: those of the start, and those loaded and unloaded live through the
 * repository extension (POST /v2/repository/models/{name}/load|unload). A load warms the model in every thread
 * before a request can reach it; a changed directory is a new version, served once warm, while the old one
 * finishes what it had. An unload refuses new requests at once and releases the sessions once the model's
 * requests have their answers. One load or unload of a name at a time; the other models serve throughout.
 */
export class ModelRepository implements ModelLookup {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: RepositoryOptions,
    started: readonly ModelParts[],
  ) {
    for (const parts of started) {
      this.entries.set(parts.served.name, { parts, state: 'READY', version: parts.served.version, reason: '' });
    }
  }

  get defaultName(): string {
    return this.options.defaultName;
  }

  get(name: string): ServedModel | undefined {
    const entry = this.entries.get(name);
    return entry?.state === 'READY' || entry?.state === 'LOADING' ? entry.parts?.served : undefined;
  }

  served(): readonly ServedModel[] {
    const served = [...this.entries.keys()].flatMap((name) => this.get(name) ?? []);
    return served.sort((a, b) => Number(b.name === this.defaultName) - Number(a.name === this.defaultName));
  }

  /** Every model of the repository directory, and every one served, with its state. */
  async index(): Promise<IndexEntry[]> {
    const names = new Set(this.entries.keys());
    if (this.options.root !== undefined) {
      for (const { name } of (await listRepository(this.options.root)).models) names.add(name);
    }
    return [...names].sort().map((name) => {
      const entry = this.entries.get(name);
      if (!entry) return { name, version: '', state: 'UNAVAILABLE', reason: '' };
      return { name, version: entry.version, state: entry.state, reason: entry.reason };
    });
  }

  /**
   * Loads the directory `name` of the repository (a new model, or a new version of a served one) in every thread,
   * warm, then serves it; the same version already served is left as it is. Refused: a name that is no directory
   * of the repository (404), a load or unload of it under way (409), a load past the memory budget (507), a
   * directory that cannot be served (400, naming it and why: the model's state says so, and a version served
   * before keeps serving).
   */
  async load(name: string): Promise<ServedModel> {
    const { root, shared, layout, logger } = this.options;
    const source = root === undefined ? undefined : sourceOf(root, name);
    if (!source || !(await isDirectory(source.dir))) throw Errors.ModelNotFound(name);
    const entry = this.lock(name);
    const serving = entry.parts;
    // From before the read: the per-row rewrite (read-model.ts) is part of what a model costs.
    const rssBefore = this.options.rss();
    try {
      let read: ReadModel;
      try {
        read = await this.options.read(source);
      } catch (err) {
        throw Errors.ModelLoadFailed(name, (err as Error).message);
      }
      if (serving && serving.served.version === read.info.id) return serving.served;
      this.checkBudget(name, read);
      // While a new version loads, the index shows the one that still serves.
      if (!serving) {
        entry.state = 'LOADING';
        entry.version = read.info.id;
      }
      const worker = poolModelOf(name, read.info);
      const calibrate = !layout.isTimed(worker.worker.key);
      let calibration: readonly CalibrationRun[] = [];
      try {
        const results = await layout.onEveryThread((slot, session) => shared.pool.addModel(slot, worker, session, calibrate));
        calibration = results.flatMap((result) => result.calibration[worker.worker.key] ?? []);
      } catch (err) {
        // What some threads loaded before one failed is released; the other models never noticed.
        await layout.onEveryThread((slot) => shared.pool.removeModel(slot, worker.worker.key)).catch(() => {});
        throw Errors.ModelLoadFailed(name, (err as Error).message);
      }
      shared.pool.runs(worker);
      layout.timed(worker.worker.key, calibration);
      const parts = createServedModel(name, read.info, read.settings, shared);
      if (calibration.length > 0) parts.served.scheduler.costModel.calibrate(calibration);
      entry.parts = parts;
      entry.state = 'READY';
      entry.version = parts.served.version;
      entry.reason = '';
      const residentBytes = Math.max(0, this.options.rss() - rssBefore);
      logger.info({ model: name, version: parts.served.version, residentMb: Math.round(residentBytes / 2 ** 20) }, 'model loaded');
      if (serving) {
        await this.retire(serving, Errors.ModelNotFound(name));
        logger.info({ model: name, version: serving.served.version }, 'model version replaced; its sessions released');
      }
      return parts.served;
    } catch (err) {
      if (err instanceof RequestError && err.code === 'INF_ERR_MODEL_LOAD') {
        entry.state = serving ? 'READY' : 'UNAVAILABLE';
        entry.version = serving?.served.version ?? entry.version;
        entry.reason = err.message;
        logger.warn({ model: name, reason: err.message }, 'model load failed');
      } else if (!serving && entry.state === 'LOADING') {
        entry.state = 'UNAVAILABLE';
      }
      throw err;
    } finally {
      this.unlock(name);
    }
  }

  /**
   * Stops serving `name`: new requests are refused at once (404, as for any name not served); those that have
   * texts queued or running get their answers; then its sessions are released in every thread.
   */
  async unload(name: string): Promise<void> {
    // A load under way is a 409 like another unload, also a model's first (not served yet).
    if (this.busy.has(name)) throw Errors.ModelBusy(name);
    const current = this.entries.get(name);
    if (!current?.parts || current.state !== 'READY') throw Errors.ModelNotFound(name);
    const entry = this.lock(name);
    const parts = entry.parts!;
    entry.state = 'UNLOADING';
    try {
      await this.retire(parts, Errors.ModelNotFound(name));
      entry.parts = undefined;
      entry.state = 'UNAVAILABLE';
      entry.reason = 'unloaded';
      this.options.logger.info({ model: name, version: parts.served.version }, 'model unloaded');
    } finally {
      this.unlock(name);
    }
  }

  /** Ends every model's own threads (the tokenizers); the pool's sessions end with the pool. */
  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => entry.parts?.close()));
  }

  /** The model's requests with texts for it are answered (others refused with `error`), then its sessions go. */
  private async retire(parts: ModelParts, error: Error): Promise<void> {
    const { shared, layout } = this.options;
    const { key } = parts.served.worker.worker;
    await parts.served.predictor.close(error);
    await shared.scheduler.dispatcher.whenLaneIdle(key);
    shared.scheduler.remove(key);
    await layout.onEveryThread((slot) => shared.pool.removeModel(slot, key));
    layout.forget(key);
    await parts.close();
  }

  /**
   * Refuses a load that would take the process past MODEL_MEMORY_BUDGET_MB: a session per thread, each about
   * SESSION_BYTES_PER_MODEL_BYTE times the model's bytes (every thread may hold one: the narrow layout).
   */
  private checkBudget(name: string, read: ReadModel): void {
    const budget = this.options.memoryBudgetBytes;
    if (budget === undefined) return;
    const needed = read.modelBytes * SESSION_BYTES_PER_MODEL_BYTE * this.options.shared.pool.size;
    if (this.options.rss() + needed > budget) {
      throw Errors.ModelMemory(name, Math.ceil(needed / 2 ** 20), Math.round(budget / 2 ** 20));
    }
  }

  private lock(name: string): Entry {
    const entry = this.entries.get(name) ?? { parts: undefined, state: 'UNAVAILABLE', version: '', reason: '' };
    if (this.busy.has(name)) throw Errors.ModelBusy(name);
    this.busy.add(name);
    this.entries.set(name, entry);
    return entry;
  }

  private unlock(name: string): void {
    this.busy.delete(name);
  }

  private readonly busy = new Set<string>();
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
