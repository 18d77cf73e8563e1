// POST / in the Hugging Face Inference API's text-classification shape, through the real @huggingface/inference
// client and by hand, against the real service (stand-in model, real redis-server for the cache).
import t from 'tap';
import { InferenceClient, InferenceClientProviderApiError } from '@huggingface/inference';
import { postPredict, scrape, startRedis, startService } from './helper.js';

interface Scored {
  label: string;
  score: number;
}

const redisServer = await startRedis();
const service = await startService({ REDIS_URL: redisServer.url, MAX_TEXTS: '8', MAX_BODY_BYTES: '4096' });
t.teardown(async () => {
  await service.stop();
  await redisServer.stop();
});
const client = new InferenceClient();
const endpointUrl = service.url;
const post = (body: unknown, options: { raw?: boolean; headers?: Record<string, string> } = {}) =>
  postPredict(service.url, body, { path: '/', ...options });
const byLabel = (list: Scored[]) => Object.fromEntries(list.map((p) => [p.label, p.score]));
const descending = (list: Scored[]) => list.every((p, i) => i === 0 || list[i - 1].score >= p.score);

t.test('the real client classifies one text: every label by descending score, the same scores as bulk-predict', async (t) => {
  const output = await client.textClassification({ endpointUrl, inputs: 'I love this movie, it is wonderful!' });
  t.same(output.map((p) => p.label).sort(), ['NEGATIVE', 'POSITIVE']);
  t.ok(descending(output));
  t.ok(Math.abs(output[0].score + output[1].score - 1) < 1e-6, 'softmax, the model default');
  const bulk = await postPredict(service.url, { text: ['I love this movie, it is wonderful!'] });
  t.same(output, bulk.body.predictions[0], 'the bulk route gives the same list');
});

t.test('the real client passes top_k and function_to_apply; other functions are computed from the logits', async (t) => {
  const inputs = 'A dull, tedious film.';
  const softmax = byLabel(await client.textClassification({ endpointUrl, inputs }));
  const top1 = await client.textClassification({ endpointUrl, inputs, parameters: { top_k: 1 } });
  t.equal(top1.length, 1, 'top_k 1: one label');
  t.equal(top1[0].score, Math.max(...Object.values(softmax)), 'the most probable one');
  const sigmoid = byLabel(await client.textClassification({ endpointUrl, inputs, parameters: { function_to_apply: 'sigmoid' } }));
  const none = byLabel(await client.textClassification({ endpointUrl, inputs, parameters: { function_to_apply: 'none' } }));
  // softmax gives the logits' difference: ln(p_pos / p_neg) = z_pos - z_neg, which the raw and sigmoid outputs must match.
  const difference = Math.log(softmax.POSITIVE / softmax.NEGATIVE);
  t.ok(Math.abs(none.POSITIVE - none.NEGATIVE - difference) < 1e-3, 'none: the raw logits');
  const logit = (s: number) => Math.log(s / (1 - s));
  t.ok(
    Math.abs(logit(sigmoid.POSITIVE) - none.POSITIVE) < 1e-3 && Math.abs(logit(sigmoid.NEGATIVE) - none.NEGATIVE) < 1e-3,
    'sigmoid of each logit',
  );
  t.ok(Math.abs(sigmoid.POSITIVE + sigmoid.NEGATIVE - 1) > 1e-3, 'sigmoid scores do not sum to 1');
  const softmaxAsked = byLabel(await client.textClassification({ endpointUrl, inputs, parameters: { function_to_apply: 'softmax' } }));
  t.same(softmaxAsked, softmax, "naming the model's own function changes nothing");
});

t.test('the real client surfaces the error message of a refused request', async (t) => {
  const error = await client.textClassification({ endpointUrl, inputs: 42 as unknown as string }).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(error instanceof InferenceClientProviderApiError, 'a provider API error');
  const apiError = error as InferenceClientProviderApiError;
  t.equal(apiError.httpResponse.status, 400);
  t.match(apiError.message, 'Failed to perform inference: inputs must be string,array');
  t.match(apiError.httpResponse.requestId, /^[0-9a-f-]{36}$/, 'the request id reaches the client');
});

t.test('a list of texts gets a list of lists in input order; an empty list an empty list', async (t) => {
  const res = await post({ inputs: ['I love it', 'I hate it', 'I love it'] });
  t.equal(res.status, 200);
  t.equal(res.body.length, 3);
  t.equal(res.body[0][0].label, 'POSITIVE');
  t.equal(res.body[1][0].label, 'NEGATIVE');
  t.same(res.body[2], res.body[0], 'a repeated text, the same list');
  t.same((await post({ inputs: ['I love it'], parameters: { top_k: 1 } })).body, [[res.body[0][0]]], 'top_k per text');
  t.same((await post({ inputs: ['I love it'], parameters: { top_k: null } })).body, [res.body[0]], 'top_k null: every label');
  t.same((await post({ inputs: ['I love it'], parameters: { top_k: 5 } })).body, [res.body[0]], 'top_k past the labels: every label');
  t.same((await post({ inputs: [], options: { wait_for_model: true } })).body, [], 'empty; unknown keys ignored');
});

t.test('bad input is a 400 {"error"} that says what is wrong; other refusals keep their status in the same shape', async (t) => {
  const cases: [string, unknown, number, RegExp][] = [
    ['no inputs', { text: ['x'] }, 400, /body must have required property 'inputs'/],
    ['a number in the list', { inputs: ['ok', 3] }, 400, /inputs\[1\] must be string/],
    ['top_k 0', { inputs: 'x', parameters: { top_k: 0 } }, 400, /parameters\.top_k must be >= 1/],
    ['top_k not an integer', { inputs: 'x', parameters: { top_k: 1.5 } }, 400, /parameters\.top_k must be integer/],
    ['unknown function', { inputs: 'x', parameters: { function_to_apply: 'relu' } }, 400, /"softmax", "sigmoid", "none"/],
    ['too many texts', { inputs: Array(9).fill('x') }, 400, /inputs has 9 texts; at most 8/],
    ['not an object', [1, 2], 400, /body must be object/],
  ];
  for (const [name, body, status, message] of cases) {
    const res = await post(body);
    t.equal(res.status, status, name);
    t.same(Object.keys(res.body ?? {}), ['error'], `${name}: {"error"}`);
    t.match(res.body?.error, message, name);
  }
  const notJson = await post('{"inputs": ', { raw: true });
  t.equal(notJson.status, 400);
  t.match(notJson.body.error, /not JSON: Expecting value at position 11/);
  const notUtf8 = await post(new Uint8Array([0x7b, 0xff, 0x7d]), { raw: true });
  t.same([notUtf8.status, notUtf8.body], [400, { error: 'There was an error parsing the body' }]);
  const empty = await post('', { raw: true });
  t.same([empty.status, Object.keys(empty.body)], [400, ['error']]);
  const wrongType = await post('{"inputs":"x"}', { raw: true, headers: { 'content-type': 'text/plain' } });
  t.same([wrongType.status, Object.keys(wrongType.body)], [415, ['error']]);
  const tooLarge = await post({ inputs: 'x'.repeat(5000) });
  t.same([tooLarge.status, tooLarge.body], [413, { error: 'Request body is larger than 4096 bytes' }]);
  const get = await fetch(`${service.url}/`);
  t.equal(get.status, 405, 'GET / is not a route');
  t.equal(get.headers.get('allow'), 'POST');
});

t.test('the cache: a repeat is a hit; another function always runs the model and leaves the default cached', async (t) => {
  const text = `cache check ${process.pid}`;
  const first = await post({ inputs: text });
  t.equal(first.headers.get('x-cache'), 'miss');
  const again = await post({ inputs: text });
  t.equal(again.headers.get('x-cache'), 'hit');
  t.same(again.body, first.body);
  const [runsBefore] = await scrape(service.url, 'inf_inferred_texts_total');
  const sigmoid = await post({ inputs: text, parameters: { function_to_apply: 'sigmoid' } });
  t.equal(sigmoid.headers.get('x-cache'), 'miss', 'sigmoid scores come from the logits, which are not cached');
  const [runsAfter] = await scrape(service.url, 'inf_inferred_texts_total');
  t.equal(runsAfter - runsBefore, 1, 'the text ran once more');
  const fresh = `sigmoid first ${process.pid}`;
  await post({ inputs: fresh, parameters: { function_to_apply: 'none' } });
  const followUp = await post({ inputs: fresh });
  t.equal(followUp.headers.get('x-cache'), 'hit', "a text scored for another function is cached for the model's own");
  const bulk = await postPredict(service.url, { text: [text] });
  t.equal(bulk.headers.get('x-cache'), 'hit', 'the bulk route shares the cache');
});

t.test('request ids are echoed; requests are counted under their own route label', async (t) => {
  const res = await post({ inputs: 'x' }, { headers: { 'content-type': 'application/json', 'x-request-id': 'hf-client-1' } });
  t.equal(res.headers.get('x-request-id'), 'hf-client-1');
  const [ok, bad] = await scrape(
    service.url,
    'inf_http_requests_total{route="hf-inference",status="200"}',
    'inf_http_requests_total{route="hf-inference",status="400"}',
  );
  t.ok(ok >= 10, `${ok} answered`);
  t.ok(bad >= 8, `${bad} refused`);
});
