// The fixture models of test/fixtures/models/ (made by make-fixtures.py) run directly through onnxruntime-node
// in the test process, one text at a time with the standard tokenization (no padding): the ground truth the
// service's answers are compared with. What each fixture expects is written out here, not derived by the
// server's code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { repoRoot } from './helper.js';

export interface FixtureModel {
  readonly name: string;
  readonly dir: string;
  readonly onnxFile: string;
  readonly problemType: 'single_label_classification' | 'multi_label_classification' | 'regression';
  readonly labels: readonly string[];
  /** Tokens per text after truncation, special tokens included. */
  readonly maxTokens: number;
  readonly inputs: readonly string[];
}

const fixture = (name: string, rest: Omit<FixtureModel, 'name' | 'dir'>): FixtureModel => ({
  name,
  dir: join(repoRoot, 'test', 'fixtures', 'models', name),
  ...rest,
});

export const FIXTURE_MODELS: readonly FixtureModel[] = [
  // model_max_length 24 is below max_position_embeddings 64.
  fixture('bert-wordpiece', {
    onnxFile: 'onnx/model.onnx',
    problemType: 'single_label_classification',
    labels: ['negative', 'positive'],
    maxTokens: 24,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
  }),
  // max_position_embeddings 34 less RoBERTa's padding_idx + 1 = 2; model_max_length is the "unset" sentinel.
  fixture('roberta-bpe', {
    onnxFile: 'model.onnx',
    problemType: 'single_label_classification',
    labels: ['negative', 'neutral', 'positive'],
    maxTokens: 32,
    inputs: ['input_ids', 'attention_mask'],
  }),
  fixture('multilabel-int32', {
    onnxFile: 'onnx/model.onnx',
    problemType: 'multi_label_classification',
    labels: ['toxic', 'insult', 'threat', 'obscene'],
    maxTokens: 512,
    inputs: ['input_ids', 'attention_mask'],
  }),
  fixture('regression', {
    onnxFile: 'onnx/model.onnx',
    problemType: 'regression',
    labels: ['LABEL_0'],
    maxTokens: 512,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
  }),
];

/**
 * Pair models: an NLI head whose token_type_ids go through a segment embedding (so the second text's type id 1
 * changes the scores), and a one-label cross-encoder for /rerank. Separate from FIXTURE_MODELS, whose test
 * checks single texts against transformers.js.
 */
export const PAIR_FIXTURE_MODELS = {
  nli: fixture('nli-pair', {
    onnxFile: 'onnx/model.onnx',
    problemType: 'single_label_classification',
    labels: ['entailment', 'neutral', 'contradiction'],
    maxTokens: 24,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
  }),
  // One output and no problem_type: transformers' pipeline (and so bulk-predict) gives its sigmoid.
  crossEncoder: fixture('cross-encoder', {
    onnxFile: 'onnx/model.onnx',
    problemType: 'multi_label_classification',
    labels: ['LABEL_0'],
    maxTokens: 32,
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
  }),
} as const;

export interface DirectModel {
  /** Scores of `text` run alone, by label, with the head's function (softmax, sigmoid or none). */
  scores(text: string): Promise<Record<string, number>>;
  /** The standard tokenization's ids, truncated to the fixture's maxTokens. */
  ids(text: string): Promise<number[]>;
  /**
   * The logits of a text, or of a pair through the tokenizer's pair template (truncated longest_first, its
   * own type ids; `typeIds: 'zero'` feeds every type id as 0, to show that the model reads them).
   */
  logits(text: string, pair?: string, typeIds?: 'tokenizer' | 'zero'): Promise<number[]>;
}

export async function loadDirectModel(model: FixtureModel): Promise<DirectModel> {
  const tokenizer = await Tokenizer.fromFile(join(model.dir, 'tokenizer.json'));
  tokenizer.setTruncation(model.maxTokens);
  const session = await ort.InferenceSession.create(join(model.dir, model.onnxFile));
  const declared = new Map(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : '']));
  const tensor = (name: string, values: number[]): ort.Tensor =>
    declared.get(name) === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(values), [1, values.length])
      : new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
  const head = JSON.parse(readFileSync(join(model.dir, 'config.json'), 'utf8')).problem_type;
  return {
    async logits(text, pair, typeIds = 'tokenizer') {
      const e = await tokenizer.encode(text, pair ?? null);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: tensor('input_ids', e.getIds()),
        attention_mask: tensor('attention_mask', e.getAttentionMask()),
      };
      if (declared.has('token_type_ids')) {
        feeds.token_type_ids = tensor('token_type_ids', typeIds === 'zero' ? e.getTypeIds().map(() => 0) : e.getTypeIds());
      }
      return Array.from((await session.run(feeds)).logits.data as Float32Array);
    },
    async ids(text) {
      return (await tokenizer.encode(text)).getIds();
    },
    async scores(text) {
      const e = await tokenizer.encode(text);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: tensor('input_ids', e.getIds()),
        attention_mask: tensor('attention_mask', e.getAttentionMask()),
      };
      if (declared.has('token_type_ids')) feeds.token_type_ids = tensor('token_type_ids', e.getTypeIds());
      const logits = Array.from((await session.run(feeds)).logits.data as Float32Array);
      let scores: number[];
      if (head === 'regression') scores = logits;
      else if (head === 'multi_label_classification') scores = logits.map((l) => 1 / (1 + Math.exp(-l)));
      else {
        const exps = logits.map((l) => Math.exp(l - Math.max(...logits)));
        scores = exps.map((x) => x / exps.reduce((a, b) => a + b, 0));
      }
      return Object.fromEntries(scores.map((s, i) => [model.labels[i], s]));
    },
  };
}
