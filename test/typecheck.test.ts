// Tests are type-checked like the code they test: `npm test` runs `npm run typecheck` (tsc over
// tsconfig.typecheck.json), whose program holds every TypeScript file of src, workers, model, bench and test, and
// a type error put into any test file fails it. Checked with the compiler's API on the same program.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { repoRoot } from './helper.js';

const CONFIG = join(repoRoot, 'tsconfig.typecheck.json');
const CHECKED_DIRS = ['src', 'workers', 'model', 'bench', 'test'];
// A line that no type checker may accept, and the error it must get (TS2322: not assignable).
const PROBE = "\nexport {};\nconst typecheckProbe: number = 'not a number';\n";
const PROBE_CODE = 2322;

const config = ts.getParsedCommandLineOfConfigFile(
  CONFIG,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
)!;
const inRepo = (file: string): string => relative(repoRoot, file);
const checked = new Set(config.fileNames.map(inRepo));

/** The TypeScript files a directory holds, recursively, as repo-relative paths. */
function typeScriptFiles(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));
}

t.test('npm test runs the type check, and the check reads tsconfig.typecheck.json without emitting', async (t) => {
  const { scripts } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  t.equal(scripts.typecheck, 'tsc -p tsconfig.typecheck.json');
  t.match(scripts.pretest, /&& npm run typecheck\b/, 'pretest: after the build, whose .d.ts the tests import');
  t.equal(config.options.noEmit, true);
  t.same(config.errors, [], 'the config parses');
});

t.test('every TypeScript file of src, workers, model, bench and test is in the checked program', async (t) => {
  const files = CHECKED_DIRS.flatMap(typeScriptFiles);
  t.ok(files.filter((f) => f.startsWith('test/')).length > 80, 'the tests are among them');
  t.same(
    files.filter((file) => !checked.has(file)),
    [],
    'none left out',
  );
});

t.test('a type error put into any test file fails the check, and nothing else fails it', async (t) => {
  const testFiles = new Set([...checked].filter((file) => file.startsWith('test/') && file.endsWith('.ts') && !file.endsWith('.d.ts')));
  const host = ts.createCompilerHost(config.options);
  const readSource = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (!testFiles.has(inRepo(fileName))) return readSource(fileName, languageVersion, onError, shouldCreate);
    return ts.createSourceFile(fileName, ts.sys.readFile(fileName)! + PROBE, languageVersion, true);
  };
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host });
  const byFile = new Map<string, number[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file === undefined ? '(program)' : inRepo(d.file.fileName);
    byFile.set(file, [...(byFile.get(file) ?? []), d.code]);
  }
  const missed = [...testFiles].filter((file) => byFile.get(file)?.[0] !== PROBE_CODE);
  t.same(missed, [], `each of the ${testFiles.size} test files reports the error put into it`);
  const others = [...byFile].filter(([file, codes]) => !(testFiles.has(file) && codes.length === 1 && codes[0] === PROBE_CODE));
  t.same(others, [], 'and no other error anywhere: without the probes, the check passes');
});
