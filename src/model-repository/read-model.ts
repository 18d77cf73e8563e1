import { stat } from 'node:fs/promises';
import { loadModelInfo, type ModelInfo, type PinnedSource } from '../model-loading/model-info.js';
import { withPerRowQuantization } from '../model-loading/per-row-model.js';
import { type ModelSettings, readModelSettings } from './model-settings.js';
import type { ModelSource } from './repository-dir.js';

/** A model directory as read, before anything of it is loaded. */
export interface ReadModel {
  readonly info: ModelInfo;
  readonly settings: ModelSettings;
  /** Bytes of what the threads will run: the ONNX file, or its per-row rewrite (the memory budget's measure). */
  readonly modelBytes: number;
}

/** What reading a directory takes from the server's settings. */
export interface ReadSettings {
  /** MODEL_FILE (only for MODEL_DIR; a repository's models are found in the usual layouts). */
  readonly modelFile: string | undefined;
  /** MAX_TOKENS, unless the model's own settings say otherwise. */
  readonly maxTokens: number;
  readonly perRowQuantization: boolean;
  /** The pinned manifest's source (its repo and revision name a model whose ONNX file is one of its files). */
  readonly pinned: PinnedSource | undefined;
}

/** Reads and checks a model directory; every failure names the file and why. */
export async function readModel(source: ModelSource, settings: ReadSettings): Promise<ReadModel> {
  const own = await readModelSettings(source.dir);
  const loaded = await loadModelInfo(source.dir, settings.modelFile, own.maxTokens ?? settings.maxTokens, settings.pinned);
  const info = settings.perRowQuantization ? await withPerRowQuantization(loaded) : loaded;
  const modelBytes = info.rewrite?.bytes.byteLength ?? (await stat(info.onnxPath)).size;
  return { info, settings: own, modelBytes };
}
