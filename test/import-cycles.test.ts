// No import cycle in the repository: the graph of relative imports (static, dynamic and type-only) between the
// TypeScript and JavaScript sources of src, workers, model, bench, schemas and test has no strongly connected
// component of more than one file, and no file imports itself. An import of dist/ is an edge to the source it was
// built from, so a test importing the build cannot hide a cycle.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { repoRoot } from './helper.js';

const SOURCE_DIRS = ['src', 'workers', 'model', 'bench', 'schemas', 'test'];
const SOURCE = /\.(ts|mts|js|mjs)$/;
// Data, not sources: the fixture models' folders and bench results.
const SKIPPED = /^(test\/fixtures\/models|bench\/results)\/|(^|\/)node_modules\//;

/** The source a relative specifier names from `from` (repo-relative), or undefined for a package or a data file. */
function resolveImport(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  let target = relative(repoRoot, resolve(repoRoot, dirname(from), specifier));
  if (target.startsWith('dist/')) target = target.slice('dist/'.length);
  const stem = target.replace(/\.(js|mjs)$/, '');
  return [target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), `${stem}.ts`, target].find(
    (candidate) => SOURCE.test(candidate) && existsSync(join(repoRoot, candidate)),
  );
}

/** Every source file with the sources it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })) {
      const file = join(dir, entry);
      if (!SOURCE.test(file) || file.endsWith('.d.ts') || SKIPPED.test(file)) continue;
      const { importedFiles } = ts.preProcessFile(readFileSync(join(repoRoot, file), 'utf8'), true, true);
      const targets = importedFiles.flatMap(({ fileName }) => resolveImport(file, fileName) ?? []);
      graph.set(file, [...new Set(targets)]);
    }
  }
  return graph;
}

/** The import cycles of a graph: its strongly connected components of several files, and files importing themselves. */
function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative so a deep chain of imports cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: [string, number][] = [[root, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [node, next] = frame;
      if (next === 0) {
        index.set(node, index.size);
        low.set(node, index.get(node)!);
        stack.push(node);
        onStack.add(node);
      }
      const edges = graph.get(node) ?? [];
      if (next < edges.length) {
        frame[1]++;
        const to = edges[next]!;
        if (!index.has(to)) work.push([to, 0]);
        else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]![0];
        low.set(parent, Math.min(low.get(parent)!, low.get(node)!));
      }
      if (low.get(node) !== index.get(node)) continue;
      const component: string[] = [];
      for (let member = stack.pop()!; ; member = stack.pop()!) {
        onStack.delete(member);
        component.push(member);
        if (member === node) break;
      }
      if (component.length > 1 || edges.includes(node)) cycles.push(component.sort());
    }
  }
  return cycles;
}

t.test('the cycle finder finds cycles, long and short, and nothing in a graph without one', async (t) => {
  const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));
  t.same(cyclesOf(graph({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] })), [['a', 'b', 'c']]);
  t.same(cyclesOf(graph({ a: ['a'], b: [] })), [['a']], 'a file importing itself');
  t.same(cyclesOf(graph({ a: ['b', 'c'], b: ['c'], c: [] })), [], 'a diamond is no cycle');
});

t.test('the repository has no import cycle', async (t) => {
  const graph = importGraph();
  t.ok(graph.size > 200, `${graph.size} source files read`);
  t.ok(graph.get('test/helper.ts')?.includes('test/harness.ts'), 'imports are resolved');
  t.ok(graph.get('test/model-fetch-repo.test.ts')?.includes('model/repo-fetch.ts'), 'an import of dist/ is an edge to its source');
  t.ok(graph.get('model/fetch.ts')?.includes('model/repo-fetch.ts'), 'the CLI imports the repository fetch...');
  t.notOk(graph.get('model/repo-fetch.ts')?.includes('model/fetch.ts'), '...which does not import the CLI');
  t.same(cyclesOf(graph), [], 'no cycle');
});
