// Every error is defined once in src/errors.ts, and every code is documented in docs/api.md's error table.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StartupError } from '../../dist/src/errors.js';
import { Errors, HttpError } from '../http-errors.js';
import { repoRoot } from '../helper.js';

const apiDocs = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
const sample = (name: string) => (Errors as Record<string, (...a: never[]) => Error>)[name]('x' as never, 'y' as never);

t.test('every error factory makes an error with a unique INF_ERR_ code', async (t) => {
  const codes = Object.keys(Errors).map((name) => (sample(name) as HttpError | StartupError).code);
  t.equal(new Set(codes).size, codes.length, 'codes are unique');
  for (const code of codes) t.match(code, /^INF_ERR_[A-Z_]+$/);
});

t.test('every HTTP error has a status and FastAPI\'s {"detail": ...} body', async (t) => {
  for (const name of Object.keys(Errors)) {
    const error = sample(name);
    if (!(error instanceof HttpError)) continue;
    t.ok(error.statusCode >= 400 && error.statusCode < 600, `${name} status`);
    t.same(Object.keys(JSON.parse(error.body)), ['detail'], `${name} body`);
  }
});

t.test('every error code has a row in the error table of docs/api.md, with its status', async (t) => {
  for (const name of Object.keys(Errors)) {
    const error = sample(name) as HttpError | StartupError;
    const row = apiDocs.split('\n').find((line) => line.startsWith(`| \`${error.code}\``));
    t.ok(row, `${error.code} is documented`);
    if (row && error instanceof HttpError) t.match(row, `| ${error.statusCode} |`, `${error.code} row gives ${error.statusCode}`);
  }
});

t.test('a 422 whose input is too deep to serialize is still a 422, without the echo', async (t) => {
  let deep: unknown[] = [];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const error = Errors.Validation([{ type: 'string_type', loc: ['body', 'text', 0], msg: 'Input should be a valid string', input: deep }]);
  t.same(JSON.parse((error as HttpError).body), {
    detail: [{ type: 'string_type', loc: ['body', 'text', 0], msg: 'Input should be a valid string' }],
  });
});
