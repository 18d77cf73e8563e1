import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Errors } from '../errors.js';
import { findLockMismatch, LOCK_FILE, readLock } from '../../model/lock.js';
import { sha256OfFile } from '../../model/sha256.js';
import {
  ModelFileProblem,
  resolveHead,
  resolveLabels,
  resolveMaxTokens,
  resolvePad,
  resolveSingleTypeId,
  type HfConfig,
  type HfTokenizerConfig,
  type HfTokenizerJson,
  type ProblemType,
  type ScoreFunction,
  type TokenLimit,
} from './model-config.js';

/** What the main thread knows about the model: where its files are, how to serve it, and its identity. */
export interface ModelInfo {
  readonly dir: string;
  /** The ONNX file, relative to dir (MODEL_FILE, or the first of MODEL_FILE_CANDIDATES found). */
  readonly modelFile: string;
  readonly onnxPath: string;
  readonly tokenizerPath: string;
  /** id2label of config.json (else LABEL_0, LABEL_1, ...), indexed by logit position. */
  readonly labels: readonly string[];
  readonly problemType: ProblemType;
  readonly scoreFunction: ScoreFunction;
  /** Batches are padded with this token id. */
  readonly padId: number;
  /** token_type_ids of every token of a text (the tokenizer's single-sequence type id), for models that take them. */
  readonly typeId: number;
  /** Texts are truncated to this many tokens, special tokens included. */
  readonly maxTokens: number;
  readonly maxTokensLimitedBy: TokenLimit['limitedBy'];
  /** sha256 (hex) of the .onnx file. */
  readonly onnxSha256: string;
  /** The hub repository and revision, when model.lock.json (or the pinned manifest) says. */
  readonly repo: string | null;
  readonly revision: string | null;
  /**
   * Short identity of everything that shapes a prediction (weights, tokenizer, labels, score function,
   * truncation), used in cache keys so a changed model never serves another model's scores.
   */
  readonly id: string;
  /** Set when the workers run a rewrite of the ONNX file (PER_ROW_QUANTIZATION), not the file as it is. */
  readonly rewrite?: { readonly name: string; readonly bytes: Uint8Array; readonly sha256: string; readonly matMuls: number };
}

/**
 * Where the ONNX file is looked for when MODEL_FILE is unset: the hub's layout (onnx/, quantized first, as
 * Xenova-style repositories publish it) and optimum's export layout (model.onnx at the top).
 */
export const MODEL_FILE_CANDIDATES = ['onnx/model_quantized.onnx', 'onnx/model.onnx', 'model_quantized.onnx', 'model.onnx'] as const;

const isFile = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined))?.isFile() ?? false;

async function findModelFile(dir: string, modelFile: string | undefined): Promise<string> {
  if (modelFile !== undefined) return modelFile;
  for (const candidate of MODEL_FILE_CANDIDATES) if (await isFile(join(dir, candidate))) return candidate;
  return MODEL_FILE_CANDIDATES[0];
}

async function readJson<T>(path: string, required: boolean): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {} as T;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw Errors.ModelInvalid(path, `is not JSON (${(err as Error).message})`);
  }
}

/** A repository whose ONNX files are known by their sha256 (the pinned manifest). */
export interface PinnedSource {
  readonly repo: string;
  readonly revision: string;
  readonly onnxSha256s: readonly string[];
}

/**
 * Reads and checks the model directory; every failure names the path and how to get the model. The source
 * (repo, revision) is model.lock.json's, else `pinned`'s when the ONNX file is one of its pinned files.
 */
export async function loadModelInfo(
  dir: string,
  modelFile: string | undefined,
  configuredMaxTokens: number,
  pinned?: PinnedSource,
): Promise<ModelInfo> {
  const file = await findModelFile(dir, modelFile);
  const onnxPath = join(dir, file);
  const tokenizerPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'config.json');
  for (const path of [configPath, tokenizerPath, onnxPath]) {
    if (!(await isFile(path))) throw Errors.ModelMissing(path);
  }
  const onnxSha256 = await sha256OfFile(onnxPath);
  const lock = await readLock(dir).catch((err: Error) => {
    throw Errors.ModelInvalid(join(dir, LOCK_FILE), err.message);
  });
  if (lock !== undefined) {
    const mismatch = await findLockMismatch(dir, lock, { [file]: onnxSha256 });
    if (mismatch !== undefined) throw Errors.ModelInvalid(join(dir, LOCK_FILE), `does not match the model directory: ${mismatch}`);
  }
  const config = await readJson<HfConfig>(configPath, true);
  const tokenizerText = await readFile(tokenizerPath, 'utf8');
  const tokenizer = await readJson<HfTokenizerJson>(tokenizerPath, true);
  const tokenizerConfig = await readJson<HfTokenizerConfig>(join(dir, 'tokenizer_config.json'), false);
  const paths = { 'config.json': configPath, 'tokenizer.json': tokenizerPath, 'tokenizer_config.json': join(dir, 'tokenizer_config.json') };
  let settings: { labels: string[]; typeId: number } & ReturnType<typeof resolveHead> & ReturnType<typeof resolvePad> & TokenLimit;
  try {
    const labels = resolveLabels(config);
    settings = {
      labels,
      ...resolveHead(config, labels.length),
      ...resolvePad(tokenizer, tokenizerConfig, config),
      ...resolveMaxTokens(configuredMaxTokens, tokenizerConfig, config),
      typeId: resolveSingleTypeId(tokenizer),
    };
  } catch (err) {
    if (err instanceof ModelFileProblem) throw Errors.ModelInvalid(paths[err.file], err.message);
    throw err;
  }
  const { labels, problemType, scoreFunction, padId, typeId, maxTokens, limitedBy } = settings;
  const id = createHash('sha256')
    .update(onnxSha256)
    .update(tokenizerText)
    .update(JSON.stringify(labels))
    .update(JSON.stringify({ scoreFunction, maxTokens, padId }))
    .digest('hex')
    .slice(0, 16);
  const source = lock ?? (pinned?.onnxSha256s.includes(onnxSha256) ? pinned : undefined);
  return {
    dir,
    modelFile: file,
    onnxPath,
    tokenizerPath,
    labels,
    problemType,
    scoreFunction,
    padId,
    typeId,
    maxTokens,
    maxTokensLimitedBy: limitedBy,
    onnxSha256,
    repo: source?.repo ?? null,
    revision: source?.revision ?? null,
    id,
  };
}
