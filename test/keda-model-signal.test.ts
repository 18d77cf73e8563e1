// The queue-autoscaling component's queries over pods that serve several models (the gauges' `model` label),
// evaluated by promtool on fixed series: predicted-wait sums each pod's worst model, whatever its other models'
// queues; queued-tokens sums every model's backlog, as they share the pod's threads (docs/scaling-out.md#models).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { find, renderBaseWith } from './fixtures/k8s-render.js';

const scaled = find(renderBaseWith(['queue-autoscaling']), 'ScaledObject', 'project-api');
const queryOf = (name: string): string =>
  (scaled.spec.triggers as { name?: string; metadata: { query?: string } }[]).find((tr) => tr.name === name)!.metadata.query!;

/** Two pods of two models each: `metric`'s constant value per pod and model. */
const series = (metric: string, values: Record<string, Record<string, number>>) =>
  Object.entries(values).flatMap(([pod, byModel]) =>
    Object.entries(byModel).map(([model, value]) => ({
      series: `${metric}{namespace="project",pod="${pod}",model="${model}"}`,
      values: `${value}x10`,
    })),
  );

t.test("the KEDA queries: each pod's worst model's predicted wait, and every model's queued tokens", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keda-promtool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases = {
    rule_files: [],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          ...series('inf_queue_predicted_wait_seconds', { a: { sentiment: 0.1, nli: 0.9 }, b: { sentiment: 0.3, nli: 0.2 } }),
          ...series('inf_queue_tokens', { a: { sentiment: 100, nli: 4000 }, b: { sentiment: 300, nli: 0 } }),
        ],
        promql_expr_test: [
          // Pod a by its nli queue (0.9), pod b by its sentiment queue (0.3).
          { expr: queryOf('predicted-wait'), eval_time: '5m', exp_samples: [{ labels: '{}', value: 1.2 }] },
          { expr: queryOf('queued-tokens'), eval_time: '5m', exp_samples: [{ labels: '{}', value: 4400 }] },
        ],
      },
    ],
  };
  writeFileSync(join(dir, 'keda.test.yaml'), stringify(cases));
  const run = spawnSync('promtool', ['test', 'rules', 'keda.test.yaml'], { encoding: 'utf8', cwd: dir });
  t.equal(run.status, 0, run.stdout + run.stderr);
  t.match(run.stdout, /SUCCESS/);
});
