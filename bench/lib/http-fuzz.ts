// A seeded mutator of requests for every route family (bodies and the framing the application decides), and
// the check of what the service answers each: a well-formed HTTP response with a JSON body, never a 500, never
// a hang, and nothing answered behind an answer that closed the connection. The same cases run in `npm test`
// (test/http-fuzz.test.ts, a few thousand) and behind flags in `npm run bench:fuzz` (as many as asked).
//
// Not generated: the requests uWS refuses or drops before the application sees them (malformed header lines,
// Content-Length with Transfer-Encoding, HTTP/1.0, ...): their answers are uWS's own HTML page or none, pinned
// one by one in test/http-edge.test.ts and listed in docs/api.md "HTTP framing and parser limits".
import { connect } from 'node:net';
import { seededRandom } from './corpus.js';

export const ROUTE_FAMILIES = ['bulk-predict', 'tei', 'hf', 'oip'] as const;
export type RouteFamily = (typeof ROUTE_FAMILIES)[number];

export interface FuzzCase {
  /** `<family>#<index>`: with the seed, enough to make the case again (fuzzCase). */
  readonly id: string;
  readonly bytes: Buffer;
  /** Whether a second request (GET /project/info) follows the first in the same write. */
  readonly smuggled: boolean;
}

export interface FuzzAnswer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

export interface FuzzOutcome {
  readonly answers: readonly FuzzAnswer[];
  readonly closed: boolean;
  /** No complete answer and no close within the wait. */
  readonly hung: boolean;
  /** Bytes after the last complete answer. */
  readonly rest: Buffer;
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const chance = (random: Random, p: number): boolean => random() < p;

const WORDS = ['I love you!', 'I hate you!', 'meh', '', ' ', 'é', '😀', '\u0000', '\ud800', 'a'.repeat(300), '{"x":1}', '\\', '"'];

/** A valid body of the family, with a fresh text now and then (so some cases run the model). */
function seedBody(random: Random, family: RouteFamily, index: number): unknown {
  const text = chance(random, 0.3) ? `fuzz text ${index} ${Math.floor(random() * 1e9)}` : pick(random, WORDS.slice(0, 3));
  switch (family) {
    case 'bulk-predict':
      return { text: [text, pick(random, WORDS)] };
    case 'tei':
      return pick(random, [{ inputs: text }, { inputs: [[text], [text, 'b']] }, { inputs: text, raw_scores: true, truncate: true }]);
    case 'hf':
      return pick(random, [{ inputs: text }, { inputs: [text, 'b'], parameters: { top_k: 1 } }]);
    case 'oip':
      return { id: 'x', inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: [text] }] };
  }
}

function pathOf(random: Random, family: RouteFamily): string {
  if (chance(random, 0.05)) return pick(random, ['/project/nowhere', '/v2/models/nope/infer', '/predict/x', '/project/bulk-predict?x=1']);
  switch (family) {
    case 'bulk-predict':
      return '/project/bulk-predict';
    case 'tei':
      return pick(random, ['/predict', '/predict', '/rerank']);
    case 'hf':
      return '/';
    case 'oip':
      return pick(random, ['/v2/models/distilbert-sst2-standin/infer', '/v2/models/distilbert-sst2-standin/versions/1/infer']);
  }
}

const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  1.5,
  '',
  'x',
  [],
  {},
  [[]],
  [null],
  ['a', 1],
  { a: 1 },
  'a'.repeat(2_000),
];

/** One structural change somewhere in a JSON value: a value replaced, a key removed or added, a list grown. */
function mutateValue(random: Random, value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object' || chance(random, 0.2)) return pick(random, ODD_VALUES);
  if (Array.isArray(value)) {
    const copy = [...value];
    const choice = random();
    if (choice < 0.2 || copy.length === 0) copy.push(pick(random, [...ODD_VALUES, ...WORDS]));
    else if (choice < 0.3) copy.length = Math.floor(random() * copy.length);
    else if (choice < 0.35) for (let i = 0; i < 40; i++) copy.push(pick(random, WORDS));
    else {
      const i = Math.floor(random() * copy.length);
      copy[i] = mutateValue(random, copy[i], depth + 1);
    }
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const choice = random();
  if (choice < 0.15 && keys.length > 0) delete copy[pick(random, keys)];
  else if (choice < 0.3)
    copy[pick(random, ['extra', '__proto__', 'constructor', 'parameters', 'outputs', 'truncate', 'raw_scores'])] = pick(random, ODD_VALUES);
  else if (keys.length > 0) {
    const key = pick(random, keys);
    copy[key] = mutateValue(random, copy[key], depth + 1);
  }
  return copy;
}

/** Byte-level damage to a serialized body: flipped, cut, inserted, or bytes that are not UTF-8. */
function mutateBytes(random: Random, body: Buffer): Buffer {
  const bytes = Buffer.from(body);
  const choice = random();
  if (choice < 0.25 && bytes.length > 0) {
    bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    return bytes;
  }
  if (choice < 0.45) return Buffer.from(bytes.subarray(0, Math.floor(random() * bytes.length)));
  const at = Math.floor(random() * (bytes.length + 1));
  const insert = pick(random, [
    Buffer.from([0xff, 0xfe]),
    Buffer.from([0xc3]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from('\u0000'),
    Buffer.from('[[[[[[[[[['.repeat(50)),
    Buffer.from('"'),
  ]);
  return Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
}

function bodyOf(random: Random, family: RouteFamily, index: number): Buffer {
  let value = seedBody(random, family, index);
  const mutations = Math.floor(random() * 3);
  for (let i = 0; i < mutations; i++) value = mutateValue(random, value);
  let body: Buffer = Buffer.from(JSON.stringify(value) ?? 'null');
  if (chance(random, 0.25)) body = mutateBytes(random, body);
  return body;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/vnd.x+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
];

/** Chunked encoding of `body` in random pieces. */
function chunked(random: Random, body: Buffer): Buffer {
  const lineEnd = '\r\n';
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const size = Math.min(body.length - at, 1 + Math.floor(random() * 64));
    parts.push(Buffer.from(size.toString(16) + lineEnd), body.subarray(at, at + size), Buffer.from(lineEnd));
    at += size;
  }
  parts.push(Buffer.from(`0${lineEnd}${lineEnd}`));
  return Buffer.concat(parts);
}

/** The framing and its body bytes: one Content-Length mostly; chunked, a repeated length, or another coding now and then. */
function framed(random: Random, body: Buffer): { headers: string; payload: Buffer } {
  const choice = random();
  if (choice < 0.78) return { headers: `Content-Length: ${body.length}\r\n`, payload: body };
  if (choice < 0.86)
    return { headers: `Transfer-Encoding: ${pick(random, ['chunked', 'Chunked', 'CHUNKED'])}\r\n`, payload: chunked(random, body) };
  // One chunk: with more, uWS misreads bare-LF framing and answers with its own HTML page (docs/api.md).
  if (choice < 0.89)
    return {
      headers: 'Transfer-Encoding: chunked\r\n',
      payload: Buffer.concat([Buffer.from(`${body.length.toString(16)}\n`), body, Buffer.from('\n0\n\n')]),
    };
  if (choice < 0.93) {
    const second = pick(random, [body.length, 0, body.length + 5, 1]);
    return { headers: `Content-Length: ${body.length}\r\nContent-Length: ${second}\r\n`, payload: body };
  }
  const coding = pick(random, [
    'gzip',
    'xchunked',
    'chunked, identity',
    'gzip, chunked',
    'deflate, chunked',
    'chunked, chunked',
    'identity',
  ]);
  const twice = chance(random, 0.2) ? 'Transfer-Encoding: gzip\r\n' : '';
  return { headers: `Transfer-Encoding: ${coding}\r\n${twice}`, payload: chunked(random, body) };
}

/** Case `index` of `family` under `seed`: the same bytes on every run. */
export function fuzzCase(seed: number, family: RouteFamily, index: number): FuzzCase {
  const random = seededRandom((seed * 1_000_003 + ROUTE_FAMILIES.indexOf(family) * 7_919 + index) >>> 0);
  const method = chance(random, 0.06) ? pick(random, ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) : 'POST';
  const body = bodyOf(random, family, index);
  const { headers, payload } = framed(random, body);
  let head = `${method} ${pathOf(random, family)} HTTP/1.1\r\nHost: fuzz\r\n`;
  const contentType = pick(random, CONTENT_TYPES);
  if (contentType !== '') head += `Content-Type: ${contentType}\r\n`;
  if (chance(random, 0.05)) head += `Authorization: Bearer ${pick(random, ['x', '', 'a b', '=='])}\r\n`;
  if (chance(random, 0.1)) head += `x-request-id: ${pick(random, ['ok-id', '', 'bad id', 'é', 'a'.repeat(200)])}\r\n`;
  if (chance(random, 0.05)) head += 'Connection: close\r\n';
  if (chance(random, 0.05)) head += 'Expect: 100-continue\r\n';
  const smuggled = chance(random, 0.15);
  const parts = [Buffer.from(head + headers + '\r\n', 'latin1'), payload];
  if (smuggled) parts.push(Buffer.from('GET /project/info HTTP/1.1\r\nHost: fuzz\r\n\r\n'));
  return { id: `${family}#${index}`, bytes: Buffer.concat(parts), smuggled };
}

/** Reads complete responses off `data`; a 100 Continue is an interim answer and is skipped. */
function parseAnswers(data: Buffer): { answers: FuzzAnswer[]; rest: Buffer } {
  const answers: FuzzAnswer[] = [];
  let rest = data;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines) headers.set(line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim());
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine!);
    if (status?.[1] === '100') {
      rest = rest.subarray(end + 4);
      continue;
    }
    const length = Number(headers.get('content-length') ?? Number.NaN);
    if (!Number.isFinite(length) || rest.length < end + 4 + length) break;
    answers.push({ status: status ? Number(status[1]) : Number.NaN, headers, body: rest.subarray(end + 4, end + 4 + length) });
    rest = rest.subarray(end + 4 + length);
  }
  return { answers, rest };
}

/** Sends a case on a fresh connection and reads until the answers it can get are in, the server closes, or `waitMs`. */
export function runFuzzCase(port: number, fuzz: FuzzCase, waitMs: number): Promise<FuzzOutcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let closed = false;
    let settled = false;
    const finish = (hung: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const { answers, rest } = parseAnswers(data);
      resolve({ answers, closed, hung, rest });
    };
    const timer = setTimeout(() => finish(true), waitMs);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const { answers } = parseAnswers(data);
      const closes = answers.some((answer) => answer.headers.get('connection')?.toLowerCase() === 'close');
      // Done once every request is answered; after an answer that closes, wait for the close itself.
      if (!closes && answers.length === (fuzz.smuggled ? 2 : 1)) finish(false);
    });
    socket.on('close', () => {
      closed = true;
      finish(false);
    });
    socket.on('error', () => {});
    socket.write(fuzz.bytes);
  });
}

/** What is wrong with an outcome, or undefined when it is what the service promises. */
export function problemWith(fuzz: FuzzCase, outcome: FuzzOutcome): string | undefined {
  if (outcome.hung) return `no answer and no close (${outcome.answers.length} answers)`;
  if (outcome.answers.length === 0) {
    // A close without an answer is uWS's refusal of a request behind a pending one: only when one was smuggled.
    return fuzz.smuggled ? undefined : `closed without an answer (${JSON.stringify(outcome.rest.toString('latin1').slice(0, 80))})`;
  }
  for (const [i, answer] of outcome.answers.entries()) {
    if (!Number.isFinite(answer.status)) return `answer ${i}: a malformed status line`;
    if (answer.status >= 500 && answer.status !== 501 && answer.status !== 503 && answer.status !== 504)
      return `answer ${i}: ${answer.status}`;
    if (!answer.headers.get('content-type')?.startsWith('application/json'))
      return `answer ${i}: content-type ${answer.headers.get('content-type')}`;
    // TEI's /health-style empty 200s are not generated; every answer here has a JSON body.
    try {
      JSON.parse(answer.body.toString('utf8'));
    } catch {
      return `answer ${i}: not JSON: ${JSON.stringify(answer.body.toString('latin1').slice(0, 80))}`;
    }
    const closes = answer.headers.get('connection')?.toLowerCase() === 'close';
    if (closes && i < outcome.answers.length - 1) return `answer ${i} said Connection: close, and a request behind it was answered`;
    if (closes && !outcome.closed) return `answer ${i} said Connection: close, and the connection stayed open`;
  }
  if (outcome.rest.length > 0 && !outcome.closed)
    return `bytes after the answers: ${JSON.stringify(outcome.rest.toString('latin1').slice(0, 80))}`;
  return undefined;
}

export interface FuzzRun {
  /** One line per case with a problem: its id, the problem, and the start of what was sent. */
  readonly problems: readonly string[];
  /** How many answers had each status. */
  readonly statuses: ReadonlyMap<number, number>;
}

/** Runs cases 0..cases-1 of `family` against the service on `port`, `concurrency` connections at a time. */
export async function runFuzz(
  port: number,
  {
    seed,
    family,
    cases,
    concurrency = 16,
    waitMs = 15_000,
  }: { seed: number; family: RouteFamily; cases: number; concurrency?: number; waitMs?: number },
): Promise<FuzzRun> {
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < cases; index = next++) {
      const fuzz = fuzzCase(seed, family, index);
      const outcome = await runFuzzCase(port, fuzz, waitMs);
      const problem = problemWith(fuzz, outcome);
      if (problem) problems.push(`${fuzz.id}: ${problem}; sent ${JSON.stringify(fuzz.bytes.toString('latin1').slice(0, 300))}`);
      for (const answer of outcome.answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { problems, statuses: new Map([...statuses].sort(([a], [b]) => a - b)) };
}
