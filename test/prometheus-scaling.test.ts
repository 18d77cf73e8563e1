// The scaling signal end to end: a real Prometheus scrapes the real service, and the exact queries of the
// queue-autoscaling component's KEDA triggers, and the recorded series the alert rules fire on, rise under load.
import t from 'tap';
import { find, renderBaseWith } from './fixtures/k8s-render.js';
import { startPrometheus } from './fixtures/prometheus.js';
import { postPredict, startService, waitFor } from './helper.js';

const scaled = find(renderBaseWith(['queue-autoscaling']), 'ScaledObject', 'project-api');
const TRIGGER_QUERIES = (scaled.spec.triggers as { type: string; name?: string; metadata: { query?: string } }[])
  .filter((tr) => tr.type === 'prometheus')
  .map((tr) => ({ name: tr.name!, query: tr.metadata.query! }));
const ALERT_SIGNALS = ['namespace:inf_queue_predicted_wait_seconds:max_avg5m', 'namespace:inf_request_overloaded:ratio_rate5m'];

t.test('the autoscaler’s queries and the alerts’ recorded series rise under load', async (t) => {
  // One thread and a low admission bound: the load queues texts and some requests are refused, as in overload.
  const service = await startService({ WORKERS: '1', MAX_QUEUE_DELAY_MS: '100' });
  t.teardown(() => service.stop());
  // The labels Kubernetes service discovery adds, which the queries select on.
  const prometheus = await startPrometheus([{ url: service.url, labels: { namespace: 'project', pod: 'project-api-0' } }]);
  t.teardown(() => prometheus.stop());
  t.equal(TRIGGER_QUERIES.length, 2, 'two Prometheus triggers');

  await waitFor(async () => (await prometheus.value('count_over_time(up{job="project-api"}[1m])')) >= 3, 30_000, 'three scrapes');
  for (const { name, query } of TRIGGER_QUERIES) t.equal(await prometheus.value(query), 0, `idle: ${name} is 0`);

  let running = true;
  let sent = 0;
  const statuses = new Map<number, number>();
  const connection = async (): Promise<void> => {
    while (running) {
      const texts = Array.from({ length: 16 }, () => `a new text under load, number ${sent++}, about a film that was long`);
      const res = await postPredict(service.url, { text: texts }).catch(() => ({ status: 0 }));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, connection));
  try {
    for (const { name, query } of TRIGGER_QUERIES) {
      await waitFor(async () => (await prometheus.value(query)) > 0, 60_000, `${name} (${query}) above 0 under load`);
      t.pass(`${name}: ${query} = ${await prometheus.value(query)} under load`);
    }
    for (const series of ALERT_SIGNALS) {
      await waitFor(async () => (await prometheus.value(series)) > 0, 60_000, `${series} above 0 under load`);
      t.pass(`${series} = ${await prometheus.value(series)} under load`);
    }
  } finally {
    running = false;
    await load;
  }
  t.comment(`answers: ${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  t.ok((statuses.get(503) ?? 0) > 0, 'the load was past admission (some 503s), as the refusal ratio says');
});
