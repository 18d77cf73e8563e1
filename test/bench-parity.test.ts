// The bench refuses to time two servers that do not give the same answers.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUN_JS = join(repoRoot, 'dist', 'bench', 'run.js');

// A stand-in for "ours" that serves the right API with the wrong model: every text is 60% POSITIVE.
const WRONG_SERVER = `
import { createServer } from 'node:http';
createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/project/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"healthy"}');
    return;
  }
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const { text } = JSON.parse(body);
    const predictions = text.map(() => [{ label: 'POSITIVE', score: 0.6 }, { label: 'NEGATIVE', score: 0.4 }]);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ predictions }));
  });
}).listen(Number(process.env.PORT), process.env.HOST);
`;

async function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [RUN_JS, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

t.test('The bench aborts before timing, and writes nothing, when the two servers disagree.', async (t) => {
  const dir = t.testdir({ out: {} });
  const script = join(dir, 'wrong-server.mjs');
  await writeFile(script, WRONG_SERVER);
  const { code, stdout, stderr } = await runBench(['--quick', '--out', join(dir, 'out'), '--ours-script', script]);
  t.equal(code, 1);
  t.match(stderr, /ours and peer disagree on \d+ score/);
  t.match(stderr, /"I love you!": POSITIVE 0\.6000 vs 0\.99/);
  t.notMatch(stdout, /req\/s/, 'no scenario ran');
  t.same(await readdir(join(dir, 'out')), []);
});

t.test('The bench names a missing build instead of starting anything.', async (t) => {
  const { code, stderr } = await runBench(['--quick', '--ours-script', join(t.testdir(), 'missing.js')]);
  t.equal(code, 1);
  t.match(stderr, /our service is not built: .*missing\.js is missing/);
});

t.test('The bench rejects an unknown scenario name.', async (t) => {
  const { code, stderr } = await runBench(['--scenarios', 'cached,warp']);
  t.equal(code, 1);
  t.match(stderr, /unknown scenario\(s\) warp/);
});
