// What a Hugging Face model directory's JSON files say about serving it: labels, the head's score function,
// the pad token, and how many tokens a text may have. Pure functions over the parsed files, so each rule is
// tested on its own (test/internals/model-config.test.ts) and the rules docs/models.md states have one implementation.

/** The parts of config.json this server reads; everything else is ignored. */
export interface HfConfig {
  readonly id2label?: Record<string, unknown>;
  readonly num_labels?: unknown;
  readonly problem_type?: unknown;
  readonly pad_token_id?: unknown;
  readonly max_position_embeddings?: unknown;
  readonly model_type?: unknown;
}

/** The parts of tokenizer_config.json this server reads. */
export interface HfTokenizerConfig {
  readonly pad_token?: unknown;
  readonly model_max_length?: unknown;
}

/** The parts of tokenizer.json this server reads (the tokenizers library does the tokenizing itself). */
export interface HfTokenizerJson {
  readonly padding?: { readonly pad_id?: unknown; readonly pad_token?: unknown } | null;
  readonly added_tokens?: readonly { readonly id: number; readonly content: string }[];
  readonly model?: { readonly vocab?: Record<string, number> | readonly (readonly [string, number])[] };
  readonly post_processor?: HfPostProcessor | null;
}

/** tokenizer.json's post_processor: what adds the special tokens and sets the type ids. */
export interface HfPostProcessor {
  readonly type: string;
  /** TemplateProcessing: the pieces of a single sequence, each with its type id. */
  readonly single?: readonly ({ readonly SpecialToken?: { readonly type_id: number } } & {
    readonly Sequence?: { readonly type_id: number };
  })[];
  /** Sequence: processors applied in order. */
  readonly processors?: readonly HfPostProcessor[];
}

export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';
/** How a row of logits becomes scores. */
export type ScoreFunction = 'softmax' | 'sigmoid' | 'none';

export const PROBLEM_TYPES: readonly ProblemType[] = ['single_label_classification', 'multi_label_classification', 'regression'];

/** A problem of the model's files; the caller turns it into INF_ERR_MODEL_INVALID naming the file. */
export class ModelFileProblem extends Error {
  constructor(
    readonly file: 'config.json' | 'tokenizer.json' | 'tokenizer_config.json',
    problem: string,
  ) {
    super(problem);
  }
}

/**
 * Labels by logit position: config.json's id2label; without it, `num_labels` (else 2, transformers' default)
 * labels named LABEL_0, LABEL_1, ... as the transformers pipeline names them.
 */
export function resolveLabels(config: HfConfig): string[] {
  if (config.id2label === undefined) {
    const n = config.num_labels ?? 2;
    if (!Number.isSafeInteger(n) || (n as number) < 1)
      throw new ModelFileProblem('config.json', 'has a num_labels that is not a positive integer');
    return Array.from({ length: n as number }, (_, i) => `LABEL_${i}`);
  }
  const entries = Object.entries(config.id2label);
  const labels: string[] = [];
  for (const [id, label] of entries) {
    if (!/^\d+$/.test(id) || typeof label !== 'string' || Number(id) >= entries.length) {
      throw new ModelFileProblem('config.json', 'has an id2label that is not {"0": "...", "1": "...", ...}');
    }
    labels[Number(id)] = label;
  }
  if (labels.length < 1) throw new ModelFileProblem('config.json', 'has an empty id2label');
  return labels;
}

/**
 * The transformers pipeline's choice (TextClassificationPipeline.postprocess): regression -> the raw output;
 * multi-label, or a single output without a problem_type -> sigmoid per label; otherwise softmax.
 */
export function resolveHead(config: HfConfig, numLabels: number): { problemType: ProblemType; scoreFunction: ScoreFunction } {
  const declared = config.problem_type;
  if (declared !== undefined && declared !== null && !PROBLEM_TYPES.includes(declared as ProblemType)) {
    throw new ModelFileProblem('config.json', `has problem_type ${JSON.stringify(declared)}; expected one of ${PROBLEM_TYPES.join(', ')}`);
  }
  if (declared === 'regression') {
    if (numLabels !== 1)
      throw new ModelFileProblem('config.json', `has problem_type regression with ${numLabels} labels; a regression head has one output`);
    return { problemType: 'regression', scoreFunction: 'none' };
  }
  if (declared === 'multi_label_classification' || (declared == null && numLabels === 1)) {
    return { problemType: 'multi_label_classification', scoreFunction: 'sigmoid' };
  }
  if (numLabels < 2) throw new ModelFileProblem('config.json', 'has problem_type single_label_classification with fewer than two labels');
  return { problemType: 'single_label_classification', scoreFunction: 'softmax' };
}

/** tokenizer_config.json writes special tokens as a string or as an AddedToken object. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function tokenToId(tokenizer: HfTokenizerJson, token: string): number | undefined {
  const added = tokenizer.added_tokens?.find((t) => t.content === token);
  if (added !== undefined) return added.id;
  const vocab = tokenizer.model?.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...], the id is the position.
    const i = vocab.findIndex(([piece]) => piece === token);
    return i < 0 ? undefined : i;
  }
  const id = (vocab as Record<string, number> | undefined)?.[token];
  return typeof id === 'number' ? id : undefined;
}

function idToToken(tokenizer: HfTokenizerJson, id: number): string | undefined {
  const added = tokenizer.added_tokens?.find((t) => t.id === id);
  if (added !== undefined) return added.content;
  const vocab = tokenizer.model?.vocab;
  if (Array.isArray(vocab)) return vocab[id]?.[0];
  return Object.entries(vocab ?? {}).find(([, v]) => v === id)?.[0];
}

/**
 * The pad token and its id, from the first of: tokenizer.json's `padding`, tokenizer_config.json's
 * `pad_token` (its id from tokenizer.json), config.json's `pad_token_id`. Batches are padded with it.
 */
export function resolvePad(
  tokenizer: HfTokenizerJson,
  tokenizerConfig: HfTokenizerConfig,
  config: HfConfig,
): { padId: number; padToken: string } {
  const padding = tokenizer.padding;
  if (padding && Number.isSafeInteger(padding.pad_id) && typeof padding.pad_token === 'string') {
    return { padId: padding.pad_id as number, padToken: padding.pad_token };
  }
  const fromTokenizerConfig = tokenContent(tokenizerConfig.pad_token);
  if (fromTokenizerConfig !== undefined) {
    const padId = tokenToId(tokenizer, fromTokenizerConfig);
    if (padId === undefined) {
      throw new ModelFileProblem(
        'tokenizer_config.json',
        `has pad_token ${JSON.stringify(fromTokenizerConfig)}, which tokenizer.json does not know`,
      );
    }
    return { padId, padToken: fromTokenizerConfig };
  }
  if (Number.isSafeInteger(config.pad_token_id) && (config.pad_token_id as number) >= 0) {
    const padId = config.pad_token_id as number;
    return { padId, padToken: idToToken(tokenizer, padId) ?? '' };
  }
  throw new ModelFileProblem(
    'config.json',
    "gives no pad token (nor do tokenizer.json's padding or tokenizer_config.json's pad_token); set pad_token_id",
  );
}

/**
 * The type id (token_type_ids) of every token of one text, as the tokenizer's post-processor gives it: 0 for
 * BertProcessing, RobertaProcessing, ByteLevel and no post-processor; TemplateProcessing's `single` template
 * names it. A template whose single sequence mixes type ids is refused: one text is one segment here.
 */
export function resolveSingleTypeId(tokenizer: HfTokenizerJson): number {
  const typeIds = new Set<number>();
  const visit = (processor: HfPostProcessor | null | undefined): void => {
    if (!processor) return;
    if (processor.type === 'Sequence') processor.processors?.forEach(visit);
    if (processor.type === 'TemplateProcessing') {
      for (const piece of processor.single ?? []) typeIds.add((piece.SpecialToken ?? piece.Sequence)?.type_id ?? 0);
    }
  };
  visit(tokenizer.post_processor);
  if (typeIds.size > 1) {
    throw new ModelFileProblem(
      'tokenizer.json',
      `has a single-sequence template with type ids ${[...typeIds].join(' and ')}; one text must be one segment`,
    );
  }
  return typeIds.values().next().value ?? 0;
}

/**
 * Architectures whose position ids start after the padding index (transformers'
 * create_position_ids_from_input_ids): pad_token_id + 1 rows of the position table are never a text's.
 */
const POSITIONS_AFTER_PADDING = new Set([
  'roberta',
  'xlm-roberta',
  'xlm-roberta-xl',
  'camembert',
  'data2vec-text',
  'longformer',
  'roberta-prelayernorm',
  'mpnet',
  'ibert',
  'markuplm',
]);

export interface TokenLimit {
  readonly maxTokens: number;
  /** Which limit won, for the start-up log and /info. */
  readonly limitedBy: 'MAX_TOKENS' | 'model_max_length' | 'max_position_embeddings';
}

/**
 * Texts are truncated to the smallest of MAX_TOKENS, tokenizer_config.json's model_max_length and the
 * positions the model can embed: max_position_embeddings, less pad_token_id + 1 for RoBERTa-like models.
 */
export function resolveMaxTokens(configured: number, tokenizerConfig: HfTokenizerConfig, config: HfConfig): TokenLimit {
  let limit: TokenLimit = { maxTokens: configured, limitedBy: 'MAX_TOKENS' };
  const modelMax = tokenizerConfig.model_max_length;
  if (typeof modelMax === 'number' && modelMax > 0 && modelMax < limit.maxTokens)
    limit = { maxTokens: Math.floor(modelMax), limitedBy: 'model_max_length' };
  const positions = config.max_position_embeddings;
  if (Number.isSafeInteger(positions) && (positions as number) > 0) {
    const reserved = POSITIONS_AFTER_PADDING.has(String(config.model_type)) ? ((config.pad_token_id as number | undefined) ?? 1) + 1 : 0;
    const usable = (positions as number) - reserved;
    if (usable < limit.maxTokens) limit = { maxTokens: usable, limitedBy: 'max_position_embeddings' };
  }
  if (limit.maxTokens < 2) throw new ModelFileProblem('config.json', `leaves ${limit.maxTokens} tokens per text (${limit.limitedBy})`);
  return limit;
}
