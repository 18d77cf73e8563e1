// The scale-out components: queue-autoscaling (KEDA on the queue's predicted wait and tokens, CPU second),
// redis-cluster (an external Redis Cluster instead of the base's single Redis) and alert-rules.
import t from 'tap';
import { loadConfig } from '../dist/src/config.js';
import { find, ofKind, render, renderBaseWith } from './fixtures/k8s-render.js';

const API = 'project-api-deployment';

t.test(
  'queue-autoscaling: one autoscaler, KEDA’s, on predicted wait and queued tokens, then CPU, with the base HPA’s bounds and behaviour',
  async (t) => {
    const objects = renderBaseWith(['queue-autoscaling']);
    const baseHpa = find(render('base'), 'HorizontalPodAutoscaler', 'project-api-hpa');
    t.same(ofKind(objects, 'HorizontalPodAutoscaler'), [], 'the base HPA is removed: KEDA creates its own');
    const [scaled] = ofKind(objects, 'ScaledObject');
    t.same(scaled.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: API });
    t.doesNotThrow(() => find(objects, 'Deployment', API));
    t.equal(scaled.spec.minReplicaCount, baseHpa.spec.minReplicas);
    t.equal(scaled.spec.maxReplicaCount, baseHpa.spec.maxReplicas);
    t.same(scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior, baseHpa.spec.behavior, 'the same behaviour');
    t.equal(scaled.spec.advanced.horizontalPodAutoscalerConfig.name, 'project-api-hpa');
    const triggers = scaled.spec.triggers as { type: string; name?: string; metricType?: string; metadata: Record<string, string> }[];
    t.same(
      triggers.map((tr) => tr.name ?? tr.type),
      ['predicted-wait', 'queued-tokens', 'cpu'],
    );
    t.match(triggers[0].metadata.query, /\binf_queue_predicted_wait_seconds\{/);
    t.match(triggers[1].metadata.query, /\binf_queue_tokens\{/);
    for (const tr of triggers.slice(0, 2)) {
      t.match(tr.metadata.query, /^sum\(/, `${tr.name}: summed over pods, as an AverageValue target divides by the pod count`);
      t.ok(Number(tr.metadata.threshold) > 0, `${tr.name}: a positive threshold`);
      t.match(tr.metadata.serverAddress, /^https?:\/\//);
    }
    const maxDelayS = Number(loadConfig({}).maxQueueDelayMs) / 1000;
    t.ok(Number(triggers[0].metadata.threshold) < maxDelayS, 'scales out well before admission refuses');
    t.same([triggers[2].metricType, triggers[2].metadata.value], ['Utilization', '70'], 'CPU as in the base HPA');
  },
);

t.test('redis-cluster: no Redis of our own, REDIS_CLUSTER_NODES instead of REDIS_URL, the password from the Secret', async (t) => {
  const objects = renderBaseWith(['redis-cluster']);
  t.same(
    objects.filter((o) => o.metadata.name.startsWith('redis-')).map((o) => `${o.kind}/${o.metadata.name}`),
    [],
    'no redis Deployment, Service or NetworkPolicy',
  );
  const spec = find(objects, 'Deployment', API).spec.template.spec;
  t.equal(spec.initContainers, undefined, 'no init container waits for a redis-service that is gone');
  t.notMatch(JSON.stringify(objects), /redis-service/, 'nothing refers to redis-service');
  const env = spec.containers.find((c: { name: string }) => c.name === 'project-api').env as {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  t.equal(
    env.find((e) => e.name === 'REDIS_URL'),
    undefined,
  );
  t.same(env.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'redis-auth', key: 'password' });
  const nodes = env.find((e) => e.name === 'REDIS_CLUSTER_NODES')?.value;
  t.ok(nodes, 'REDIS_CLUSTER_NODES is set');
  const config = loadConfig({ REDIS_CLUSTER_NODES: nodes!, REDIS_PASSWORD: 'from-the-secret' });
  t.equal(config.redisClusterNodes?.tls, true, 'the example seeds are TLS, as managed clusters are');
  t.equal(config.redisUrl, undefined);
});

t.test('alert-rules: one PrometheusRule whose alerts read only metrics the service exports or rules it records', async (t) => {
  const [rule] = ofKind(renderBaseWith(['alert-rules']), 'PrometheusRule');
  const rules = rule.spec.groups.flatMap((g: { rules: object[] }) => g.rules) as {
    alert?: string;
    record?: string;
    expr: string;
    for?: string;
  }[];
  t.same(
    rules.filter((r) => r.alert).map((r) => r.alert),
    ['ProjectApiQueueNearRefusal', 'ProjectApiRefusingRequests', 'ProjectApiRedisDown', 'ProjectApiRedisErrors'],
  );
  const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record));
  for (const r of rules) {
    for (const name of r.expr.match(/\b[a-z_:]+(?=[{[(\s]|$)/g) ?? []) {
      if (/^(sum|max|min|by|rate|avg_over_time|on|and|or)$/.test(name)) continue;
      t.ok(name.startsWith('inf_') || recorded.has(name), `${r.alert ?? r.record}: reads ${name}`);
    }
    if (r.alert) t.match(r.for, /^\d+m$/, `${r.alert}: holds for minutes, not one scrape`);
  }
});
