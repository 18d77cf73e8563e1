// The rules that read a Hugging Face model directory (src/model-loading/model-config.ts), one by one, as docs/models.md states them.
import t from 'tap';
import {
  type HfTokenizerJson,
  resolveHead,
  resolveLabels,
  resolveMaxTokens,
  resolvePad,
  resolveSingleTypeId,
} from '../../dist/src/model-loading/model-config.js';
import { createPredictionFormatter } from '../../dist/src/inference/prediction-codec.js';

const wordpiece = {
  added_tokens: [
    { id: 0, content: '[PAD]' },
    { id: 7, content: '<pad>' },
  ],
  model: { vocab: { '[PAD]': 0, hello: 5, '<pad>': 7 } },
};

t.test('labels: id2label by position, else num_labels (default 2) named LABEL_i as the pipeline names them', async (t) => {
  t.same(resolveLabels({ id2label: { 1: 'POSITIVE', 0: 'NEGATIVE' } }), ['NEGATIVE', 'POSITIVE']);
  t.same(resolveLabels({}), ['LABEL_0', 'LABEL_1']);
  t.same(resolveLabels({ num_labels: 3 }), ['LABEL_0', 'LABEL_1', 'LABEL_2']);
  t.throws(() => resolveLabels({ id2label: { 0: 'a', 2: 'c' } }), { file: 'config.json', message: /id2label that is not/ });
  t.throws(() => resolveLabels({ num_labels: 0 }), { message: /num_labels/ });
});

t.test('head: problem_type picks softmax, sigmoid or the raw output, as the transformers pipeline does', async (t) => {
  t.same(resolveHead({}, 2), { problemType: 'single_label_classification', scoreFunction: 'softmax' });
  t.same(resolveHead({ problem_type: 'multi_label_classification' }, 4), {
    problemType: 'multi_label_classification',
    scoreFunction: 'sigmoid',
  });
  t.same(resolveHead({ problem_type: 'regression' }, 1), { problemType: 'regression', scoreFunction: 'none' });
  t.same(
    resolveHead({}, 1),
    { problemType: 'multi_label_classification', scoreFunction: 'sigmoid' },
    'one output without a problem_type: sigmoid',
  );
  t.throws(() => resolveHead({ problem_type: 'regression' }, 3), { message: /one output/ });
  t.throws(() => resolveHead({ problem_type: 'ranking' }, 2), { message: /problem_type "ranking"/ });
});

t.test('pad: tokenizer.json padding, then tokenizer_config.json pad_token, then config.json pad_token_id', async (t) => {
  const padding = { pad_id: 7, pad_token: '<pad>' };
  t.same(
    resolvePad({ ...wordpiece, padding }, { pad_token: '[PAD]' }, { pad_token_id: 5 }),
    { padId: 7, padToken: '<pad>' },
    'tokenizer.json first',
  );
  t.same(resolvePad(wordpiece, { pad_token: '<pad>' }, { pad_token_id: 0 }), { padId: 7, padToken: '<pad>' }, 'then tokenizer_config.json');
  t.same(
    resolvePad(wordpiece, { pad_token: { content: '<pad>', lstrip: false } }, {}),
    { padId: 7, padToken: '<pad>' },
    'an AddedToken object',
  );
  t.same(resolvePad(wordpiece, {}, { pad_token_id: 0 }), { padId: 0, padToken: '[PAD]' }, 'then config.json');
  const unigram = {
    model: {
      vocab: [
        ['<unk>', 0],
        ['<pad>', 0],
        ['▁a', -1],
      ] as [string, number][],
    },
  };
  t.same(resolvePad(unigram, { pad_token: '<pad>' }, {}), { padId: 1, padToken: '<pad>' }, 'Unigram: the id is the position');
  t.throws(() => resolvePad(wordpiece, { pad_token: '<nope>' }, {}), { file: 'tokenizer_config.json', message: /does not know/ });
  t.throws(() => resolvePad(wordpiece, {}, {}), { file: 'config.json', message: /no pad token/ });
});

t.test('truncation: the smallest of MAX_TOKENS, model_max_length and the usable position embeddings', async (t) => {
  t.same(resolveMaxTokens(512, { model_max_length: 512 }, { max_position_embeddings: 512, model_type: 'distilbert' }), {
    maxTokens: 512,
    limitedBy: 'MAX_TOKENS',
  });
  t.same(resolveMaxTokens(128, { model_max_length: 512 }, { max_position_embeddings: 512 }), { maxTokens: 128, limitedBy: 'MAX_TOKENS' });
  t.same(resolveMaxTokens(512, { model_max_length: 24 }, { max_position_embeddings: 64 }), {
    maxTokens: 24,
    limitedBy: 'model_max_length',
  });
  t.same(resolveMaxTokens(512, { model_max_length: 1e30 }, { max_position_embeddings: 514, model_type: 'roberta', pad_token_id: 1 }), {
    maxTokens: 512,
    limitedBy: 'MAX_TOKENS',
  });
  t.same(
    resolveMaxTokens(512, { model_max_length: 1e30 }, { max_position_embeddings: 34, model_type: 'roberta', pad_token_id: 1 }),
    { maxTokens: 32, limitedBy: 'max_position_embeddings' },
    'RoBERTa reserves padding_idx + 1',
  );
  t.same(resolveMaxTokens(512, {}, { max_position_embeddings: 130, model_type: 'xlm-roberta' }), {
    maxTokens: 128,
    limitedBy: 'max_position_embeddings',
  });
  t.same(
    resolveMaxTokens(512, {}, { max_position_embeddings: 128, model_type: 'bert' }),
    { maxTokens: 128, limitedBy: 'max_position_embeddings' },
    'BERT reserves nothing',
  );
});

t.test('formatter: softmax, sigmoid or raw, by descending score with ties in label order, float32 digits', async (t) => {
  const logits = new Float32Array([0, 2, -1, 2]);
  const parse = (json: string) => JSON.parse(json) as { label: string; score: number }[];
  const soft = parse(createPredictionFormatter(['a', 'b'], 'softmax')(logits, 0));
  t.same(
    soft.map((p) => p.label),
    ['b', 'a'],
  );
  t.equal(soft[0].score, Math.fround(Math.exp(2) / (1 + Math.exp(2))));
  const sig = parse(createPredictionFormatter(['a', 'b', 'c', 'd'], 'sigmoid')(logits, 0));
  t.same(
    sig.map((p) => p.label),
    ['b', 'd', 'a', 'c'],
    'tie between b and d in label order',
  );
  t.equal(sig.find((p) => p.label === 'a')!.score, 0.5);
  const raw = parse(createPredictionFormatter(['LABEL_0'], 'none')(logits, 2));
  t.same(raw, [{ label: 'LABEL_0', score: -1 }], 'row 2 of a one-output head, as it is');
});

t.test('type ids: one per text, from the post-processor (TemplateProcessing names it, the others give 0)', async (t) => {
  // The pieces as tokenizer.json writes them (with the `id` the server does not read).
  const template = (single: readonly object[]) => ({ post_processor: { type: 'TemplateProcessing', single } }) as HfTokenizerJson;
  const bert = [
    { SpecialToken: { id: '[CLS]', type_id: 0 } },
    { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '[SEP]', type_id: 0 } },
  ];
  t.equal(resolveSingleTypeId(template(bert)), 0);
  t.equal(resolveSingleTypeId(template([{ Sequence: { id: 'A', type_id: 1 } }])), 1);
  t.equal(
    resolveSingleTypeId({
      post_processor: {
        type: 'Sequence',
        processors: [{ type: 'ByteLevel' }, template([{ Sequence: { id: 'A', type_id: 1 } }]).post_processor!],
      },
    }),
    1,
  );
  t.equal(resolveSingleTypeId({ post_processor: { type: 'RobertaProcessing' } }), 0);
  t.equal(resolveSingleTypeId({ post_processor: null }), 0);
  t.throws(() => resolveSingleTypeId(template([...bert, { Sequence: { id: 'A', type_id: 1 } }])), {
    file: 'tokenizer.json',
    message: /type ids 0 and 1/,
  });
});
