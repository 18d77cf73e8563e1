// text-embeddings-inference's tei.v1 services over gRPC against the real service (the stand-in model, a real
// redis-server), through clients generated at run time from schemas/grpc/tei.proto: Info as GET /info reports it,
// Predict and PredictPair equal to POST /predict (labels, scores within 1e-6, raw_scores, truncate), their streams
// in request order, Rerank as TEI answers a classifier's (and, with a one-label cross-encoder, as POST /rerank
// ranks), Tokenize and Decode against the tokenizer itself, Embed's methods UNIMPLEMENTED, each error with its
// status code, and API keys from the `authorization` metadata.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Tokenizer } from 'tokenizers';
import { PAIR_FIXTURE_MODELS } from './fixture-models.js';
import { type CallOptions, type GrpcClient, grpcClient, type UnaryResult, unary } from './grpc-client.js';
import { postPredict, scrape, STANDIN_MODEL_DIR, startRedis, startService } from './helper.js';

type Item = { label: string; score: number };
// any: the messages are read field by field, as the proto gives them
type Message = Record<string, any>;

/** A client of each tei.v1 service on `port`. */
function clientsOf(port: number) {
  const make = (name: string) => grpcClient('tei.proto', `tei.v1.${name}`, port);
  return { info: make('Info'), embed: make('Embed'), predict: make('Predict'), rerank: make('Rerank'), tokenize: make('Tokenize') };
}

const metadataOf = (options: CallOptions): grpc.Metadata => {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
};

/** Writes every request of a bidirectional stream, then ends it: every answer, and the status if it failed. */
function bidi(
  client: GrpcClient,
  method: string,
  requests: readonly Message[],
  options: CallOptions = {},
): Promise<UnaryResult<Message[]>> {
  return new Promise((resolve) => {
    const call = client[method](metadataOf(options)) as grpc.ClientDuplexStream<Message, Message>;
    const answers: Message[] = [];
    call.on('data', (answer: Message) => answers.push(answer));
    call.on('error', (error: grpc.ServiceError) => resolve({ value: answers, error }));
    call.on('end', () => resolve({ value: answers }));
    for (const request of requests) call.write(request);
    call.end();
  });
}

/** A client stream (RerankStream): every request, then its one answer or its status. */
function clientStream(
  client: GrpcClient,
  method: string,
  requests: readonly Message[],
  options: CallOptions = {},
): Promise<UnaryResult<Message>> {
  return new Promise((resolve) => {
    const call = client[method](metadataOf(options), (error: grpc.ServiceError | null, value: Message) =>
      resolve(error ? { error } : { value }),
    ) as grpc.ClientWritableStream<Message>;
    for (const request of requests) call.write(request);
    call.end();
  });
}

/** The answer of a call that must succeed (else the test fails with its status). */
async function ok<Res>(call: Promise<UnaryResult<Res>>): Promise<Res> {
  const { value, error } = await call;
  if (error) throw new Error(`expected an answer, got ${grpc.status[error.code]}: ${error.details}`);
  return value as Res;
}

/** The status of a call that must fail. */
async function failureOf(t: Test, call: Promise<UnaryResult<unknown>>, what: string): Promise<{ code: grpc.status; details: string }> {
  const { error } = await call;
  t.ok(error, `${what}: fails`);
  return { code: error?.code ?? grpc.status.OK, details: error?.details ?? '' };
}

/** TEI's /predict answer for the same input, over HTTP. */
async function httpPredict(url: string, inputs: unknown, options: Record<string, unknown> = {}): Promise<Item[]> {
  const res = await postPredict(url, { inputs, ...options }, { path: '/predict' });
  if (res.status !== 200) throw new Error(`/predict answered ${res.status}: ${res.text}`);
  return res.body as Item[];
}

function sameAsHttp(t: Test, got: Message, expected: Item[], what: string): void {
  const predictions = got.predictions as Item[];
  t.same(
    predictions.map((p) => p.label),
    expected.map((p) => p.label),
    `${what}: the labels, in the HTTP route's order`,
  );
  predictions.forEach((p, i) =>
    t.ok(Math.abs(p.score - expected[i].score) <= 1e-6, `${what}: ${p.label} ${p.score} ≈ ${expected[i].score}`),
  );
}

const long = 'a truly wonderful film '.repeat(200);
const redisServer = await startRedis();
const service = await startService({ REDIS_URL: redisServer.url, MAX_TEXTS: '4' });
const clients = clientsOf(service.grpcPort);
t.teardown(async () => {
  for (const client of Object.values(clients)) client.close();
  await service.stop();
  await redisServer.stop();
});

t.test('Info answers what GET /info reports', async (t) => {
  const info = await ok(unary(clients.info, 'Info', {}));
  const http = (await (await fetch(`${service.url}/info`)).json()) as Message;
  t.equal(info.model_type, 'MODEL_TYPE_CLASSIFIER', 'a two-label model is a classifier');
  for (const field of [
    'version',
    'model_id',
    'model_dtype',
    'max_concurrent_requests',
    'max_input_length',
    'max_batch_tokens',
    'max_batch_requests',
    'max_client_batch_size',
    'tokenization_workers',
  ]) {
    t.equal(info[field], http[field], `${field} = /info's ${http[field]}`);
  }
  t.equal(info.max_client_batch_size, 4, 'MAX_TEXTS');
  t.notOk('sha' in info, 'sha unset, as /info has it null');
  t.notOk('docker_label' in info, 'docker_label unset');
});

t.test('Predict and PredictPair equal POST /predict for the same input', async (t) => {
  const text = 'I love this movie!';
  const predict = await ok(unary(clients.predict, 'Predict', { inputs: text }));
  sameAsHttp(t, predict, await httpPredict(service.url, text), 'a text');
  t.equal(predict.metadata.compute_chars, [...text].length, 'metadata: compute_chars');
  t.ok(predict.metadata.total_time_ns > 0, 'metadata: total_time_ns');

  const one = await ok(unary(clients.predict, 'PredictPair', { inputs: [text] }));
  t.same(one.predictions, predict.predictions, 'PredictPair of one text is that text');
  const pair = await ok(unary(clients.predict, 'PredictPair', { inputs: [text, 'it was terrible'] }));
  sameAsHttp(t, pair, await httpPredict(service.url, [text, 'it was terrible']), 'a pair');
  t.not(JSON.stringify(pair.predictions), JSON.stringify(predict.predictions), 'the pair is scored as a pair');

  const raw = await ok(unary(clients.predict, 'Predict', { inputs: text, raw_scores: true }));
  sameAsHttp(t, raw, await httpPredict(service.url, text, { raw_scores: true }), 'raw_scores');
  t.ok(
    (raw.predictions as Item[]).some((p) => p.score < 0 || p.score > 1),
    'raw_scores: logits, not probabilities',
  );
  const rawPair = await ok(unary(clients.predict, 'PredictPair', { inputs: [text, 'fine'], raw_scores: true }));
  sameAsHttp(t, rawPair, await httpPredict(service.url, [text, 'fine'], { raw_scores: true }), 'a pair, raw_scores');
});

t.test('truncate: false refuses an input past the limit (INVALID_ARGUMENT); true cuts it as /predict does', async (t) => {
  const refused = await failureOf(t, unary(clients.predict, 'Predict', { inputs: long }), 'a long text');
  t.equal(refused.code, grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT, as TEI');
  t.match(refused.details, /^`inputs` must have less than 512 tokens\. Given: \d+$/, "TEI's message");
  const pair = await failureOf(t, unary(clients.predict, 'PredictPair', { inputs: ['short', long] }), 'a long pair');
  t.equal(pair.code, grpc.status.INVALID_ARGUMENT, 'a long pair too');
  const cut = await ok(unary(clients.predict, 'Predict', { inputs: long, truncate: true }));
  sameAsHttp(t, cut, await httpPredict(service.url, long, { truncate: true }), 'truncate: true');
});

t.test('bad requests: INVALID_ARGUMENT with the field named', async (t) => {
  const cases: [string, Promise<UnaryResult<unknown>>, RegExp][] = [
    ['an empty text', unary(clients.predict, 'Predict', { inputs: '' }), /^`inputs` cannot be empty$/],
    ['a pair of empty texts', unary(clients.predict, 'PredictPair', { inputs: ['', ''] }), /^`inputs` cannot be empty$/],
    [
      'PredictPair of no input',
      unary(clients.predict, 'PredictPair', { inputs: [] }),
      /`inputs` must have a single or two elements\. Given: 0/,
    ],
    ['PredictPair of three', unary(clients.predict, 'PredictPair', { inputs: ['a', 'b', 'c'] }), /Given: 3/],
    [
      'truncation_direction LEFT',
      unary(clients.predict, 'Predict', { inputs: 'a', truncation_direction: 'TRUNCATION_DIRECTION_LEFT' }),
      /^truncation_direction: Left is not supported/,
    ],
    [
      'an unknown truncation_direction',
      unary(clients.predict, 'Predict', { inputs: 'a', truncation_direction: 7 }),
      /^truncation_direction: unknown value 7/,
    ],
    ['Tokenize of an empty text', unary(clients.tokenize, 'Tokenize', { inputs: '' }), /^`inputs` cannot be empty$/],
    ['Tokenize with a prompt_name', unary(clients.tokenize, 'Tokenize', { inputs: 'a', prompt_name: 'query' }), /^prompt_name: /],
    ['Decode of no ids', unary(clients.tokenize, 'Decode', { ids: [] }), /^`input_ids` cannot be empty$/],
    ['Rerank of no texts', unary(clients.rerank, 'Rerank', { query: 'q', texts: [] }), /^`texts` cannot be empty$/],
  ];
  for (const [what, call, message] of cases) {
    const { code, details } = await failureOf(t, call, what);
    t.equal(code, grpc.status.INVALID_ARGUMENT, `${what}: INVALID_ARGUMENT`);
    t.match(details, message, `${what}: ${details}`);
  }
});

t.test('PredictStream and PredictPairStream answer each message in order, each as Predict answers it alone', async (t) => {
  const texts = ['first: a great film', 'second: awful', 'third: it was fine', 'fourth: I loved it', 'fifth: boring', 'sixth'];
  const answers = await ok(
    bidi(
      clients.predict,
      'PredictStream',
      texts.map((inputs, i) => ({ inputs, raw_scores: i % 2 === 1 })),
    ),
  );
  t.equal(answers.length, texts.length, 'an answer per message');
  for (const [i, text] of texts.entries()) {
    sameAsHttp(t, answers[i], await httpPredict(service.url, text, { raw_scores: i % 2 === 1 }), `message ${i}`);
    t.equal(answers[i].metadata.compute_chars, [...text].length, `message ${i}: its own metadata`);
  }

  const pairs = [['a', 'b'], ['the film'], ['good', 'bad'], ['bad', 'good']];
  const pairAnswers = await ok(
    bidi(
      clients.predict,
      'PredictPairStream',
      pairs.map((inputs) => ({ inputs })),
    ),
  );
  t.equal(pairAnswers.length, pairs.length);
  for (const [i, inputs] of pairs.entries()) sameAsHttp(t, pairAnswers[i], await httpPredict(service.url, inputs), `pair ${i}`);

  const failed = await bidi(clients.predict, 'PredictStream', [{ inputs: 'ok' }, { inputs: '' }, { inputs: 'after' }]);
  t.equal(failed.error?.code, grpc.status.INVALID_ARGUMENT, 'a bad message ends the stream with its status');
  t.equal(failed.error?.details, '`inputs` cannot be empty');
  t.equal(failed.value?.length, 1, 'after the answer of the message before it');
});

t.test('one cache with the HTTP routes; the calls counted by method and code', async (t) => {
  const text = 'a text sent over HTTP first';
  await httpPredict(service.url, text);
  const cached = await ok(unary(clients.predict, 'Predict', { inputs: text }));
  t.equal(cached.metadata.inference_time_ns, 0, 'answered from the cache the HTTP route filled: no model run');
  const fresh = await ok(unary(clients.predict, 'Predict', { inputs: 'a text only gRPC has sent' }));
  t.ok(fresh.metadata.inference_time_ns > 0, 'a new text runs the model');
  const [predicted, refused, streamed] = await scrape(
    service.url,
    'inf_grpc_requests_total{method="tei.v1.Predict/Predict",code="OK"}',
    'inf_grpc_requests_total{method="tei.v1.Predict/Predict",code="INVALID_ARGUMENT"}',
    'inf_grpc_requests_total{method="tei.v1.Predict/PredictStream",code="OK"}',
  );
  t.ok(predicted >= 2, `Predict OK: ${predicted}`);
  t.ok(refused >= 1, `Predict INVALID_ARGUMENT: ${refused}`);
  t.ok(streamed >= 6, `PredictStream OK, one per message: ${streamed}`);
});

t.test('Rerank and RerankStream: a classifier is not a re-ranker (FAILED_PRECONDITION, as TEI)', async (t) => {
  const rerank = await failureOf(t, unary(clients.rerank, 'Rerank', { query: 'q', texts: ['a', 'b'] }), 'Rerank');
  t.equal(rerank.code, grpc.status.FAILED_PRECONDITION);
  t.equal(rerank.details, 'model is not a re-ranker model', "TEI's message");
  const stream = await failureOf(t, clientStream(clients.rerank, 'RerankStream', [{ query: 'q', text: 'a' }]), 'RerankStream');
  t.equal(stream.code, grpc.status.FAILED_PRECONDITION);
  t.equal(stream.details, 'model is not a re-ranker model');
});

t.test("Tokenize and Decode agree with the model's tokenizer; their streams keep order", async (t) => {
  const tokenizer = Tokenizer.fromFile(join(STANDIN_MODEL_DIR, 'tokenizer.json'));
  tokenizer.disableTruncation();
  const text = 'Café 😀 naïve [MASK] ending';
  for (const addSpecialTokens of [true, false]) {
    const { tokens } = await ok(unary(clients.tokenize, 'Tokenize', { inputs: text, add_special_tokens: addSpecialTokens }));
    const expected = await tokenizer.encode(text, null, { addSpecialTokens });
    t.same(
      tokens.map((token: Message) => token.id),
      expected.getIds(),
      `add_special_tokens ${addSpecialTokens}: the tokenizer's ids`,
    );
    const special = expected.getSpecialTokensMask();
    const codePoints = [...text];
    for (const [i, token] of (tokens as Message[]).entries()) {
      t.equal(token.special, special[i] === 1, `token ${i}: special`);
      if (token.special) {
        t.equal(token.text, expected.getTokens()[i], `special token ${i}: its own text`);
        t.notOk('start' in token || 'stop' in token, `special token ${i}: no offsets`);
      } else {
        t.same([token.start, token.stop], expected.getOffsets()[i], `token ${i}: offsets in code points`);
        t.equal(token.text, codePoints.slice(token.start, token.stop).join(''), `token ${i}: the characters it covers`);
      }
    }
    t.equal(tokens[0].special, addSpecialTokens, `add_special_tokens ${addSpecialTokens}: [CLS] ${addSpecialTokens ? 'first' : 'absent'}`);

    const ids = tokens.map((token: Message) => token.id);
    for (const skip of [true, false]) {
      const decoded = await ok(unary(clients.tokenize, 'Decode', { ids, skip_special_tokens: skip }));
      t.equal(decoded.text, await tokenizer.decode(ids, skip), `Decode, skip_special_tokens ${skip}: the tokenizer's text`);
    }
  }
  const roundTrip = 'the film was a delight';
  const { tokens } = await ok(unary(clients.tokenize, 'Tokenize', { inputs: roundTrip, add_special_tokens: true }));
  const back = await ok(unary(clients.tokenize, 'Decode', { ids: tokens.map((token: Message) => token.id), skip_special_tokens: true }));
  t.equal(back.text, roundTrip, 'Tokenize then Decode gives a lower-case text back');
  t.equal((await ok(unary(clients.tokenize, 'Decode', { ids: [999_999, 2_000] }))).text, 'to', 'an unknown id is skipped');

  const texts = ['one', 'two words', 'three little words', 'four'];
  const streamed = await ok(
    bidi(
      clients.tokenize,
      'TokenizeStream',
      texts.map((inputs) => ({ inputs, add_special_tokens: true })),
    ),
  );
  t.same(
    streamed.map((answer) => answer.tokens.length),
    await Promise.all(texts.map(async (text) => (await tokenizer.encode(text)).getLength())),
    'TokenizeStream: an answer per text, in order',
  );
  const decodedStream = await ok(
    bidi(
      clients.tokenize,
      'DecodeStream',
      streamed.map((answer) => ({ ids: answer.tokens.map((token: Message) => token.id), skip_special_tokens: true })),
    ),
  );
  t.same(
    decodedStream.map((answer) => answer.text),
    texts,
    'DecodeStream: each text back, in order',
  );
});

t.test("Embed's RPCs: UNIMPLEMENTED, saying this server classifies", async (t) => {
  const calls: [string, Promise<UnaryResult<unknown>>][] = [
    ['Embed', unary(clients.embed, 'Embed', { inputs: 'a' })],
    ['EmbedSparse', unary(clients.embed, 'EmbedSparse', { inputs: 'a' })],
    ['EmbedAll', unary(clients.embed, 'EmbedAll', { inputs: 'a' })],
    ['EmbedStream', bidi(clients.embed, 'EmbedStream', [{ inputs: 'a' }])],
    ['EmbedSparseStream', bidi(clients.embed, 'EmbedSparseStream', [{ inputs: 'a' }])],
    ['EmbedAllStream', bidi(clients.embed, 'EmbedAllStream', [{ inputs: 'a' }])],
  ];
  for (const [rpc, call] of calls) {
    const { code, details } = await failureOf(t, call, rpc);
    t.equal(code, grpc.status.UNIMPLEMENTED, `${rpc}: UNIMPLEMENTED`);
    t.match(details, /classifier/, `${rpc}: ${details}`);
  }
});

t.test('a one-label cross-encoder: Rerank and RerankStream rank as POST /rerank does', async (t) => {
  const model = PAIR_FIXTURE_MODELS.crossEncoder;
  const reranker = await startService({ MODEL_DIR: model.dir, REDIS_URL: redisServer.url, MAX_TEXTS: '4' });
  const { rerank, info } = clientsOf(reranker.grpcPort);
  t.teardown(async () => {
    rerank.close();
    info.close();
    await reranker.stop();
  });
  t.equal((await ok(unary(info, 'Info', {}))).model_type, 'MODEL_TYPE_RERANKER', 'Info: a one-label model is a reranker');
  const health = grpcClient('health.proto', 'grpc.health.v1.Health', reranker.grpcPort);
  t.teardown(() => health.close());
  t.same((await ok(unary(health, 'Check', { service: 'tei.v1.Rerank' }))).status, 'SERVING', 'health: Rerank is served');
  const query = 'a good movie';
  const texts = ['it is fun', 'the worst film ever', 'a good movie', 'so-so'];
  for (const [rawScores, returnText] of [
    [false, false],
    [true, true],
  ]) {
    const http = await postPredict(reranker.url, { query, texts, raw_scores: rawScores, return_text: returnText }, { path: '/rerank' });
    t.equal(http.status, 200, http.text);
    const expected = http.body as { index: number; score: number; text?: string }[];
    const check = (got: Message, what: string) => {
      t.same(
        got.ranks.map((r: Message) => r.index),
        expected.map((r) => r.index),
        `${what}: the HTTP route's ranking`,
      );
      for (const [i, rank] of (got.ranks as Message[]).entries()) {
        t.ok(Math.abs(rank.score - expected[i].score) <= 1e-6, `${what}: text ${rank.index} ${rank.score} ≈ ${expected[i].score}`);
        t.equal(rank.text, expected[i].text, `${what}: text ${returnText ? 'returned' : 'unset'}`);
      }
      t.equal(
        got.metadata.compute_chars,
        texts.reduce((n, text) => n + query.length + text.length, 0),
        `${what}: compute_chars`,
      );
    };
    check(await ok(unary(rerank, 'Rerank', { query, texts, raw_scores: rawScores, return_text: returnText })), `Rerank raw ${rawScores}`);
    // raw_scores and return_text are the first message's, as TEI reads them.
    const messages = texts.map((text, i) => ({
      query,
      text,
      raw_scores: i === 0 ? rawScores : !rawScores,
      return_text: i === 0 ? returnText : !returnText,
    }));
    check(await ok(clientStream(rerank, 'RerankStream', messages)), `RerankStream raw ${rawScores}`);
  }
  const long = 'a truly wonderful film '.repeat(20);
  const tooLong = await failureOf(
    t,
    clientStream(rerank, 'RerankStream', [
      { query, text: 'short', truncate: false },
      { query, text: long },
    ]),
    'a long pair',
  );
  t.equal(tooLong.code, grpc.status.INVALID_ARGUMENT, 'a pair past the limit, not truncated: INVALID_ARGUMENT');
  const cut = await ok(
    clientStream(rerank, 'RerankStream', [
      { query, text: 'short' },
      { query, text: long, truncate: true },
    ]),
  );
  t.equal(cut.ranks.length, 2, "each message's own truncate: the long one cut");
  const five = texts.concat('one more').map((text) => ({ query, text }));
  const tooMany = await failureOf(t, clientStream(rerank, 'RerankStream', five), 'a stream past MAX_TEXTS');
  t.equal(tooMany.code, grpc.status.INVALID_ARGUMENT, 'more messages than MAX_TEXTS: INVALID_ARGUMENT');
  const none = await failureOf(t, clientStream(rerank, 'RerankStream', []), 'an empty stream');
  t.equal(none.code, grpc.status.INVALID_ARGUMENT, 'no message: INVALID_ARGUMENT');
});

t.test('API_KEYS: the tei.v1 calls that run the model or the tokenizer need `authorization: Bearer <key>`', async (t) => {
  const protectedService = await startService({ API_KEYS: 'grpc-key' });
  const guarded = clientsOf(protectedService.grpcPort);
  t.teardown(async () => {
    for (const client of Object.values(guarded)) client.close();
    await protectedService.stop();
  });
  const withKey = (key: string): CallOptions => ({ metadata: { authorization: `Bearer ${key}` } });
  for (const [what, options] of [
    ['no key', {}],
    ['a wrong key', withKey('not-the-key')],
  ] as const) {
    const calls: [string, Promise<UnaryResult<unknown>>][] = [
      ['Predict', unary(guarded.predict, 'Predict', { inputs: 'a' }, options)],
      ['PredictPair', unary(guarded.predict, 'PredictPair', { inputs: ['a', 'b'] }, options)],
      ['PredictStream', bidi(guarded.predict, 'PredictStream', [{ inputs: 'a' }], options)],
      ['Rerank', unary(guarded.rerank, 'Rerank', { query: 'q', texts: ['a'] }, options)],
      ['RerankStream', clientStream(guarded.rerank, 'RerankStream', [{ query: 'q', text: 'a' }], options)],
      ['Tokenize', unary(guarded.tokenize, 'Tokenize', { inputs: 'a' }, options)],
      ['Embed', unary(guarded.embed, 'Embed', { inputs: 'a' }, options)],
    ];
    for (const [rpc, call] of calls) {
      t.equal((await failureOf(t, call, rpc)).code, grpc.status.UNAUTHENTICATED, `${rpc}, ${what}: UNAUTHENTICATED`);
    }
  }
  const answer = await ok(unary(guarded.predict, 'Predict', { inputs: 'a fine film' }, withKey('grpc-key')));
  t.equal(answer.predictions.length, 2, 'the key: answered');
  const streamed = await ok(bidi(guarded.predict, 'PredictStream', [{ inputs: 'a' }, { inputs: 'b' }], withKey('grpc-key')));
  t.equal(streamed.length, 2, 'the key: the stream answered');
  t.equal(
    (await ok(unary(guarded.info, 'Info', {}))).model_type,
    'MODEL_TYPE_CLASSIFIER',
    "Info is in API_KEY_ROUTES' info group, open by default",
  );
});
