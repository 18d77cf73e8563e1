// The README is the way in and docs/ holds the reference: every relative link of README.md and docs/*.md must
// reach a file, and its #anchor a heading of that file; each docs page opens with a table of contents of its
// sections; and the README stays short enough to read.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '../helper.js';

const README = join(repoRoot, 'README.md');
const docsDir = join(repoRoot, 'docs');
const pages = [
  README,
  ...readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(docsDir, f)),
];

const withoutCodeBlocks = (markdown: string): string => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** The text outside fenced code blocks and inline code, where `[x](y)` is a link. */
function prose(markdown: string): string {
  return withoutCodeBlocks(markdown).replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()#]/g, ' '));
}

/** GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, text] of withoutCodeBlocks(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = text!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const links = (markdown: string): string[] => [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);

t.test('every relative link of README.md and docs/*.md resolves, anchors included', async (t) => {
  for (const page of pages) {
    const name = relative(repoRoot, page);
    const text = readFileSync(page, 'utf8');
    for (const link of links(text)) {
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? page : join(dirname(page), path);
      if (!existsSync(target)) {
        t.fail(`${name}: ${link} names a file that does not exist`);
        continue;
      }
      if (anchor !== undefined) {
        t.ok(target.endsWith('.md') && statSync(target).isFile(), `${name}: ${link} has an anchor into a Markdown file`);
        t.ok(anchors(readFileSync(target, 'utf8')).has(anchor), `${name}: ${link} is a heading of ${relative(repoRoot, target)}`);
      } else t.pass(`${name}: ${link}`);
    }
  }
});

t.test('each docs page has a table of contents linking to each of its sections', async (t) => {
  for (const page of pages.filter((p) => p !== README)) {
    const text = readFileSync(page, 'utf8');
    const own = new Set(links(text).filter((l) => l.startsWith('#')));
    for (const [, heading] of withoutCodeBlocks(text).matchAll(/^## (.+)$/gm)) {
      const [anchor] = anchors(`## ${heading}`);
      t.ok(own.has(`#${anchor}`), `${relative(repoRoot, page)}: the contents link to "${heading}"`);
    }
  }
});

t.test('the README stays under 12 KB, with every docs page linked from it', async (t) => {
  const readme = readFileSync(README, 'utf8');
  t.ok(Buffer.byteLength(readme) <= 12 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes`);
  for (const page of pages.filter((p) => p !== README)) {
    t.ok(
      links(readme).some((l) => l.split('#')[0] === relative(repoRoot, page)),
      `README links ${relative(repoRoot, page)}`,
    );
  }
});

t.test("the README's two set-up commands are the ones .ci/run runs on a clean machine", async (t) => {
  const readme = readFileSync(README, 'utf8');
  const setup = readme.slice(readme.indexOf('## Set-up'));
  const block = setup.slice(setup.indexOf('```sh\n') + 6, setup.indexOf('```', setup.indexOf('```sh\n') + 6));
  const ci = readFileSync(join(repoRoot, '.ci', 'run'), 'utf8');
  for (const command of ['npm ci', 'npm test']) {
    t.ok(block.includes(command), `the README's set-up runs ${command}`);
    t.match(ci, new RegExp(`^${command}\\b`, 'm'), `.ci/run runs ${command}`);
  }
});
