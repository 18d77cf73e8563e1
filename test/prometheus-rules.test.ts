// The alert-rules component through promtool: the rules are valid Prometheus rules, and they fire (and stay
// quiet) as kustomize/components/alert-rules/prometheus-rule.test.yaml says.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kustomizeRoot } from './fixtures/k8s-render.js';
import { writeRulesFile } from './fixtures/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', cwd: dir });

t.test('promtool check rules accepts the rules, and would reject a broken expression', async (t) => {
  const rules = await writeRulesFile(dir);
  const ok = promtool('check', 'rules', rules);
  t.equal(ok.status, 0, ok.stdout + ok.stderr);
  t.match(ok.stdout, /SUCCESS: 6 rules found/);
  const broken = join(dir, 'broken.rules.yaml');
  writeFileSync(broken, 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(inf_x[5m])\n');
  t.not(promtool('check', 'rules', broken).status, 0, 'a syntax error fails the check');
});

t.test('promtool test rules: every case in prometheus-rule.test.yaml passes', async (t) => {
  await writeRulesFile(dir);
  copyFileSync(join(kustomizeRoot, 'components', 'alert-rules', 'prometheus-rule.test.yaml'), join(dir, 'rules.test.yaml'));
  const run = promtool('test', 'rules', 'rules.test.yaml');
  t.equal(run.status, 0, run.stdout + run.stderr);
  t.match(run.stdout, /SUCCESS/);
});
