import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../model/sha256.js';
import { Errors } from './errors.js';

/** What the main thread knows about the model: where its files are, its labels, and its identity. */
export interface ModelInfo {
  readonly dir: string;
  readonly onnxPath: string;
  readonly tokenizerPath: string;
  /** id2label of config.json, indexed by logit position. */
  readonly labels: readonly string[];
  /** sha256 (hex) of the .onnx file. */
  readonly onnxSha256: string;
  /**
   * Short identity of everything that shapes a prediction (weights, tokenizer, labels), used in cache keys so
   * a changed model never serves another model's scores.
   */
  readonly id: string;
  /** Set when the workers run a rewrite of the ONNX file (PER_ROW_QUANTIZATION), not the file as it is. */
  readonly rewrite?: { readonly name: string; readonly bytes: Uint8Array; readonly sha256: string; readonly matMuls: number };
}

/** Reads and checks the model directory; every failure names the path and how to get the model. */
export async function loadModelInfo(dir: string, modelFile: string): Promise<ModelInfo> {
  const onnxPath = join(dir, modelFile);
  const tokenizerPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'config.json');
  for (const path of [configPath, tokenizerPath, onnxPath]) {
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw Errors.ModelMissing(path);
  }
  const configText = await readFile(configPath, 'utf8');
  const labels = parseLabels(configText, configPath);
  const tokenizerText = await readFile(tokenizerPath);
  const onnxSha256 = (await sha256File(onnxPath)).digest('hex');
  const id = createHash('sha256').update(onnxSha256).update(tokenizerText).update(JSON.stringify(labels)).digest('hex').slice(0, 16);
  return { dir, onnxPath, tokenizerPath, labels, onnxSha256, id };
}

function parseLabels(configText: string, configPath: string): string[] {
  let config: { id2label?: Record<string, unknown> };
  try {
    config = JSON.parse(configText);
  } catch (err) {
    throw Errors.ModelInvalid(configPath, `is not JSON (${(err as Error).message})`);
  }
  const entries = Object.entries(config.id2label ?? {});
  const labels: string[] = [];
  for (const [id, label] of entries) {
    if (!/^\d+$/.test(id) || typeof label !== 'string' || Number(id) >= entries.length) {
      throw Errors.ModelInvalid(configPath, 'has an id2label that is not {"0": "...", "1": "...", ...}');
    }
    labels[Number(id)] = label;
  }
  if (labels.length < 2) throw Errors.ModelInvalid(configPath, 'has fewer than two labels in id2label');
  return labels;
}
