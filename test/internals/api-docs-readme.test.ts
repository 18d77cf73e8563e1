// The API's prose is written once, in schemas/api-docs.json: the OpenAPI document is built from it, and docs/api.md
// must say the same words (whitespace aside), so the two cannot drift apart.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiDocs } from '../../dist/src/generated/schemas.js';
import { Errors, HttpError } from '../http-errors.js';
import { repoRoot } from '../helper.js';

const page = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
const flat = (text: string) => text.replace(/\s+/g, ' ').trim();
const rowOf = (name: string) => page.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));

t.test('docs/api.md quotes each operation description and the 422 text', async (t) => {
  for (const [name, op] of Object.entries(ApiDocs.operations)) {
    t.ok(flat(page).includes(flat(op.description)), `${name} description`);
  }
  t.ok(flat(page).includes(flat(ApiDocs.responses.bulkPredict['422'])), '422 description');
});

t.test('the header table of docs/api.md has each header with its text', async (t) => {
  for (const [name, text] of Object.entries(ApiDocs.headers)) {
    t.ok(rowOf(name)?.includes(`| ${text} |`), `${name} row`);
  }
});

t.test('every HTTP error code has its text in schemas/api-docs.json and in its docs/api.md row', async (t) => {
  const httpCodes = Object.values(Errors)
    .map((factory) => (factory as (...a: never[]) => unknown)('x' as never, 'y' as never))
    .filter((error): error is HttpError => error instanceof HttpError)
    .map((error) => error.code);
  t.same(Object.keys(ApiDocs.errors).sort(), httpCodes.sort(), 'one text per HTTP error code, none stale');
  for (const [code, text] of Object.entries(ApiDocs.errors)) {
    t.ok(rowOf(code)?.endsWith(`| ${text} |`), `${code} row says: ${text}`);
  }
});
