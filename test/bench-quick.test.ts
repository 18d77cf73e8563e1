// `npm run bench -- --quick` end to end: real redis-server, real service, real peer, small loads.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUN_JS = join(repoRoot, 'dist', 'bench', 'run.js');
const SCENARIOS = ['cached', 'mixed', 'uncached', 'large'];

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

/** A strict little XML parser (elements, attributes, text, comments, PI, predefined entities); throws on malformed input. */
function parseXml(xml: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML: ${msg} at offset ${i}: ${JSON.stringify(xml.slice(i, i + 40))}`);
  };
  const checkText = (s: string): void => {
    const bad = s.match(/&(?!(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
    if (bad) fail('bare &');
    if (s.includes('<')) fail('bare <');
  };
  const root: XmlElement = { name: '#document', attrs: {}, children: [] };
  const stack: XmlElement[] = [root];
  while (i < xml.length) {
    if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i);
      if (end < 0) fail('unclosed PI');
      i = end + 2;
      continue;
    }
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) fail('unclosed comment');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(xml.slice(i)) ?? fail('bad end tag');
      const open = stack.pop();
      if (!open || open.name !== m[1]) fail(`</${m[1]}> closes <${open?.name}>`);
      i += m[0].length;
      continue;
    }
    if (xml[i] === '<') {
      const m =
        /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(xml.slice(i)) ?? fail('bad start tag');
      const attrs: Record<string, string> = {};
      for (const a of m[2]!.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        if (a[1]! in attrs) fail(`duplicate attribute ${a[1]}`);
        const value = a[2] ?? a[3]!;
        checkText(value);
        attrs[a[1]!] = value;
      }
      const el: XmlElement = { name: m[1]!, attrs, children: [] };
      const parent = stack[stack.length - 1]!;
      if (parent === root && root.children.length > 0) fail('second root element');
      parent.children.push(el);
      if (m[3] !== '/') stack.push(el);
      i += m[0].length;
      continue;
    }
    const next = xml.indexOf('<', i);
    const textRun = xml.slice(i, next < 0 ? xml.length : next);
    checkText(textRun);
    if (stack.length === 1 && textRun.trim() !== '') fail('text outside the root element');
    i += textRun.length;
  }
  if (stack.length !== 1) fail(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root.children.length !== 1) fail('no root element');
  return root.children[0]!;
}

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      res(false);
    });
    socket.once('error', () => res(true));
  });
}

t.test('The XML checker used below rejects malformed documents.', async (t) => {
  t.throws(() => parseXml('<svg><g></svg>'));
  t.throws(() => parseXml('<svg><text>a & b</text></svg>'));
  t.throws(() => parseXml('<svg a="1" a="2"/>'));
  t.equal(parseXml('<?xml version="1.0"?>\n<svg><g class="x">a &amp; b</g></svg>').children[0]!.attrs.class, 'x');
});

t.test('The quick bench runs every scenario against both servers, writes JSON, Markdown and SVG, and stops what it started.', async (t) => {
  const out = t.testdir();
  const child = spawn(process.execPath, [RUN_JS, '--quick', '--out', out], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = await once(child, 'exit');
  t.equal(code, 0, `bench exits 0\n${stdout}\n${stderr}`);
  if (code !== 0) return;

  const files = await readdir(out);
  const json = files.filter((f) => f.endsWith('.json'));
  t.equal(json.length, 1, 'one JSON result');
  const base = json[0]!.slice(0, -'.json'.length);
  t.match(base, /^\d{4}-\d{2}-\d{2}-\d{6}-[0-9a-z]+-quick$/, '<date>-<sha>-quick');
  t.same(files.sort(), [`${base}.json`, `${base}.md`, `${base}.svg`].sort());

  const report = JSON.parse(await readFile(join(out, `${base}.json`), 'utf8'));
  t.equal(report.mode, 'quick');
  t.equal(report.settings.workers, 1);
  t.same(
    report.scenarios.map((s: { name: string }) => s.name),
    SCENARIOS,
  );
  for (const s of report.scenarios) {
    for (const target of ['ours', 'peer']) {
      for (const k of ['rps', 'p50', 'p99']) {
        t.ok(Number.isFinite(s[target][k]) && s[target][k] >= 0, `${s.name} ${target} ${k} is a number (${s[target][k]})`);
      }
      t.ok(s[target].requests > 0, `${s.name} ${target} completed requests`);
    }
    t.ok(s.connections > 0 && s.pipelining >= 1, 'load settings are recorded');
    t.ok(Number.isFinite(s.ratios.rps), `${s.name} has an rps ratio`);
  }
  for (const target of ['ours', 'peer']) {
    t.equal(
      report.runs.filter((r: { target: string }) => r.target === target).length,
      SCENARIOS.length,
      `one measured run per scenario for ${target}`,
    );
  }
  t.equal(report.parity.tolerance, 0.02);
  t.ok(report.parity.maxScoreDiff <= 0.02, 'the peer agreed with us before timing');

  const md = await readFile(join(out, `${base}.md`), 'utf8');
  t.match(md, /\| Scenario \| req\/s ours\/peer \| p50 ours\/peer \| p99 ours\/peer \|/, 'the ratios table');
  for (const name of SCENARIOS) t.match(md, new RegExp(`^\\| ${name} \\| (×[\\d.]+|n/a) \\|`, 'm'), `a ratio row for ${name}`);
  t.match(md, `](${base}.svg)`, 'the Markdown shows the chart');

  const svg = parseXml(await readFile(join(out, `${base}.svg`), 'utf8'));
  t.equal(svg.name, 'svg');
  const groups = svg.children.filter((c) => c.name === 'g' && c.attrs.class === 'scenario');
  t.same(
    groups.map((g) => g.attrs['data-scenario']),
    SCENARIOS,
    'one bar group per scenario',
  );
  for (const g of groups) {
    const bars = g.children.filter((c) => c.name === 'rect' && /\bbar\b/.test(c.attrs.class ?? ''));
    t.equal(bars.filter((b) => /\bours\b/.test(b.attrs.class!)).length, 3, `${g.attrs['data-scenario']}: rps, p50, p99 bars for ours`);
    t.equal(bars.filter((b) => /\bpeer\b/.test(b.attrs.class!)).length, 3, `${g.attrs['data-scenario']}: rps, p50, p99 bars for the peer`);
  }

  const ports = [...stdout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  t.ok(ports.length >= 3, 'the bench printed where redis, ours and the peer listened');
  for (const port of new Set(ports)) t.ok(await portIsClosed(port), `nothing listens on ${port} any more`);
});
