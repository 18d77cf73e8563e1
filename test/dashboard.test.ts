// The Grafana dashboard: well-formed, every panel queries something, and every metric it queries is one the
// real service exports (checked against a live /metrics scrape).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isExported, labelValuesMetric, metricNames, parseExposition, selectors, TARGET_LABELS } from './fixtures/dashboard-promql.js';
import { kustomizeRoot, renderBaseWith } from './fixtures/k8s-render.js';
import { postPredict, startRedis, startService } from './helper.js';

const DASHBOARD_FILE = join(kustomizeRoot, 'components', 'grafana-dashboard', 'project-api-dashboard.json');
const dashboardText = readFileSync(DASHBOARD_FILE, 'utf8');

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
  gridPos: { x: number; y: number; w: number; h: number };
}

/** Panels including those nested in collapsed rows; rows themselves are layout, not panels. */
function allPanels(dashboard: { panels: Panel[] }): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
}

function dashboardQueries(dashboard: {
  panels: Panel[];
  templating?: { list: Array<{ type: string; query?: string | { query?: string } }> };
}) {
  const queries = allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr ?? '' })),
  );
  const variables = (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      return { where: `variable query ${query}`, metric: labelValuesMetric(query) };
    });
  return { queries, variables };
}

t.test('The PromQL helpers find metric names and selector labels, and skip functions, labels and variables.', async (t) => {
  const expr =
    'histogram_quantile(0.95, sum by (le) (rate(inf_x_seconds_bucket{namespace="$namespace", route=~".*{a}"}[$__rate_interval]))) / ignoring(result) group_left sum(rate(inf_y_total[5m])) or vector(0)';
  t.same(metricNames(expr).sort(), ['inf_x_seconds_bucket', 'inf_y_total']);
  t.same(selectors(expr), [{ metric: 'inf_x_seconds_bucket', labels: ['namespace', 'route'] }]);
  t.equal(labelValuesMetric('label_values(inf_workers{namespace="$namespace"}, pod)'), 'inf_workers');
  const scrape = parseExposition(
    '# TYPE h histogram\nh_bucket{le="1",route="/a"} 1\nh_sum 1\nh_count 1\n# TYPE c_total counter\nc_total 3\n',
  );
  t.ok(isExported(scrape, 'h_bucket') && isExported(scrape, 'h_count') && isExported(scrape, 'c_total'));
  t.notOk(isExported(scrape, 'c_bucket'), 'a suffix only counts for a histogram family');
  t.notOk(isExported(scrape, 'missing_total'));
  t.same([...scrape.samples.get('h_bucket')!], ['le', 'route']);
});

t.test('The dashboard is valid JSON and every panel has a query on the chosen Prometheus data source.', async (t) => {
  const dashboard = JSON.parse(dashboardText);
  t.type(dashboard.uid, 'string');
  t.type(dashboard.title, 'string');
  t.ok(
    dashboard.templating.list.some(
      (v: { name: string; type: string; query: string }) => v.name === 'datasource' && v.type === 'datasource' && v.query === 'prometheus',
    ),
    'a Prometheus data source variable',
  );
  const panels = allPanels(dashboard);
  t.ok(panels.length >= 10, 'has panels');
  t.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
  for (const panel of panels) {
    const exprs = (panel.targets ?? []).map((target) => target.expr ?? '');
    t.ok(exprs.length > 0 && exprs.every((e) => e.trim() !== ''), `"${panel.title}" has a query`);
    t.ok(
      exprs.every((e) => metricNames(e).length > 0),
      `"${panel.title}" queries a metric`,
    );
    t.ok(
      (panel.targets ?? []).every((target) => target.datasource?.uid === '${datasource}'),
      `"${panel.title}" uses the data source variable`,
    );
    t.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `"${panel.title}" fits the 24-column grid`);
  }
});

t.test("Every dashboard query is scoped to the chosen namespace and to this service's pods.", async (t) => {
  const { queries } = dashboardQueries(JSON.parse(dashboardText));
  for (const { where, expr } of queries) {
    for (const { metric, labels } of selectors(expr)) {
      t.ok(labels.includes('namespace') && labels.includes('pod'), `${where}: ${metric} is filtered by namespace and pod`);
    }
    const selected = new Set(selectors(expr).map((s) => s.metric));
    t.same(
      metricNames(expr).filter((name) => !selected.has(name)),
      [],
      `${where}: no metric is read without a selector`,
    );
  }
});

t.test('The dashboard covers the signals the issue asks for.', async (t) => {
  const { queries } = dashboardQueries(JSON.parse(dashboardText));
  const used = new Set(queries.flatMap(({ expr }) => metricNames(expr)));
  const all = queries.map(({ expr }) => expr).join('\n');
  for (const [signal, metric] of [
    ['request rate', 'inf_http_requests_total'],
    ['latency percentiles', 'inf_http_request_duration_seconds_bucket'],
    ['cache hit ratio', 'inf_cache_lookups_total'],
    ['batch size', 'inf_batch_size_bucket'],
    ['queue length', 'inf_queue_texts'],
    ['worker utilisation', 'inf_workers_busy'],
    ['errors by status', 'inf_http_requests_total'],
    ['pod count', 'process_start_time_seconds'],
    ['CPU', 'process_cpu_seconds_total'],
  ])
    t.ok(used.has(metric!), `${signal}: ${metric}`);
  for (const q of ['0.5', '0.95', '0.99'])
    t.ok(
      all.includes(`histogram_quantile(${q}, sum by (le) (rate(inf_http_request_duration_seconds_bucket`),
      `latency p${Number(q) * 100}`,
    );
  t.match(all, /sum by \([^)]*status[^)]*\) \(rate\(inf_http_requests_total/, 'errors are broken down by status');
});

t.test('A model variable (multi-select, with All) picks the models, and the per-model panels follow it.', async (t) => {
  const dashboard = JSON.parse(dashboardText);
  const variable = dashboard.templating.list.find((v: { name: string }) => v.name === 'model');
  t.match(
    variable,
    { type: 'query', multi: true, includeAll: true, allValue: '.*' },
    'multi-select, with All (every model, also one gone since)',
  );
  t.equal(labelValuesMetric(variable.query.query), 'inf_queue_texts', "its values: the models' queues");
  t.match(variable.query.query, /^label_values\(inf_queue_texts\{namespace="\$namespace", pod=~"\$pod"\}, model\)$/, 'of the chosen pods');
  const { queries } = dashboardQueries(dashboard);
  const perModel = queries.filter(({ expr }) => selectors(expr).some(({ labels }) => labels.includes('model')));
  t.ok(perModel.length >= 8, `per-model queries: ${perModel.length}`);
  for (const { where, expr } of perModel) t.match(expr, /model=~"\$model"/, `${where}: filtered by the variable`);
  for (const title of ['Predicted wait by model', 'Texts inferred by model']) {
    const panel = allPanels(dashboard).find((p) => p.title === title);
    t.match(panel?.targets?.[0]?.expr, /^(max|sum) by \(model\) /, `${title}: a line per model`);
  }
});

t.test('The grafana-dashboard component ships the JSON as a fixed-name ConfigMap for the Grafana sidecar.', async (t) => {
  const maps = renderBaseWith(['grafana-dashboard']).filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
  t.equal(maps.length, 1, 'one ConfigMap labelled grafana_dashboard: "1"');
  t.equal(maps[0]!.metadata.name, 'project-api-dashboard', 'no hash suffix, so an update replaces the dashboard instead of adding one');
  t.same(Object.values(maps[0]!.data ?? {}), [dashboardText], 'carries the dashboard JSON unchanged');
  t.ok(Buffer.byteLength(dashboardText) < 256 * 1024, 'fits the 256 KiB annotation limit of client-side kubectl apply');
});

t.test('Every metric the dashboard queries is exported by the running service.', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const service = await startService({ REDIS_URL: redis.url });
  t.teardown(() => service.stop());
  // Twice: the first is a miss that runs the model, the second a cache hit, so histograms and counters have samples.
  for (let i = 0; i < 2; i++) {
    const response = await postPredict(service.url, { text: ['I love you!'] });
    t.equal(response.status, 200, `predict request ${i + 1} succeeds`);
  }
  const metrics = await fetch(`${service.url}/metrics`);
  t.equal(metrics.status, 200, 'GET /metrics');
  const scrape = parseExposition(await metrics.text());
  t.ok(scrape.types.size > 0, 'the scrape has metric families');

  const { queries, variables } = dashboardQueries(JSON.parse(dashboardText));
  for (const { where, expr } of queries) {
    for (const name of metricNames(expr)) t.ok(isExported(scrape, name), `${where}: ${name} is exported`);
    for (const { metric, labels } of selectors(expr)) {
      const seen = scrape.samples.get(metric);
      if (!seen) continue; // no samples yet (e.g. a failure counter that never fired): nothing to compare labels with
      for (const label of labels.filter((l) => !TARGET_LABELS.has(l))) t.ok(seen.has(label), `${where}: ${metric} has the label ${label}`);
      // A series with the model label is one per model: the dashboard shows the models the variable picks.
      if (seen.has('model')) t.ok(labels.includes('model'), `${where}: ${metric} is filtered by model`);
    }
  }
  for (const { where, metric } of variables) {
    t.ok(metric, `${where} names a metric`);
    if (metric) t.ok(isExported(scrape, metric), `${where}: ${metric} is exported`);
  }
});
