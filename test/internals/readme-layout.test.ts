// docs/architecture.md's map names what is in the tree: every file it names exists under its folder, every
// top-level folder of the repo has an entry, and every source file of src/ and workers/ is named, file by file.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helper.js';

const page = readFileSync(join(repoRoot, 'docs', 'architecture.md'), 'utf8');
const section = page.slice(page.indexOf('## Map'));
const block = section.slice(section.indexOf('```\n') + 4, section.indexOf('```\n', section.indexOf('```\n') + 4));

/** Top-level entry -> the text of its lines (an entry's description may continue on indented lines). */
const entries = new Map<string, string>();
let current = '';
for (const line of block.split('\n')) {
  const top = /^(\S+)\s/.exec(line);
  if (top) {
    current = top[1]!.replace(/\/$/, '');
    entries.set(current, '');
  }
  if (current) entries.set(current, `${entries.get(current)} ${line}`);
}

/** Every file name below `dir`, at any depth, outside generated and dependency folders. */
function filesBelow(dir: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !['node_modules', 'dist', 'generated'].includes(entry.name)) {
      for (const n of filesBelow(join(dir, entry.name))) names.add(n);
    } else names.add(entry.name);
  }
  return names;
}

t.test('every entry of the layout exists', async (t) => {
  for (const name of entries.keys()) t.ok(existsSync(join(repoRoot, name)), name);
});

t.test('every file the layout names is in its folder', async (t) => {
  for (const [dir, text] of entries) {
    // A file entry (biome.json) names only itself.
    if (dir.includes('.')) continue;
    const present = filesBelow(join(repoRoot, dir));
    for (const file of text.match(/(?<![>.\w-])[\w-]+\.(?:ts|mjs|json)\b/g) ?? []) t.ok(present.has(file), `${dir}/…/${file}`);
  }
});

t.test('the layout names every top-level folder, and every file and folder directly in src/', async (t) => {
  const tracked = readdirSync(repoRoot, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'dist'].includes(e.name))
    .map((e) => e.name);
  for (const dir of tracked) t.ok(entries.has(dir), `${dir}/ has an entry`);
  const src = entries.get('src') ?? '';
  for (const entry of readdirSync(join(repoRoot, 'src'), { withFileTypes: true })) {
    t.ok(src.includes(entry.isDirectory() ? `${entry.name}/` : entry.name), `src/${entry.name}${entry.isDirectory() ? '/' : ''}`);
  }
});

t.test('the map names every source file of src/ and workers/', async (t) => {
  for (const dir of ['src', 'workers']) {
    const text = entries.get(dir) ?? '';
    for (const file of filesBelow(join(repoRoot, dir))) {
      if (file.endsWith('.ts')) t.ok(new RegExp(`(?<![\\w-])${file.replace('.', '\\.')}\\b`).test(text), `${dir}/…/${file}`);
    }
  }
});
