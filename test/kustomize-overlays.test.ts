// What the dev and prod overlays add on top of the base, checked on the rendered output.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { find, kustomizeRoot, ofKind, render, renderDir, type K8sObject } from './fixtures/k8s-render.js';

const API = 'project-api-deployment';
const apiContainer = (objects: K8sObject[]) =>
  find(objects, 'Deployment', API).spec.template.spec.containers.find((c: { name: string }) => c.name === 'project-api');

/** Whether an Istio HTTPMatchRequest list matches a request path (uri exact / prefix / regex only). */
function routeMatches(matches: Array<{ uri?: { exact?: string; prefix?: string; regex?: string } }>, path: string): boolean {
  return matches.some(({ uri }) => {
    if (!uri) return true;
    if (uri.exact !== undefined) return path === uri.exact;
    if (uri.prefix !== undefined) return path.startsWith(uri.prefix);
    if (uri.regex !== undefined) return new RegExp(`^(?:${uri.regex})$`).test(path);
    return false;
  });
}

t.test('The dev overlay runs one pod of the locally loaded project:dev image, with no autoscaler.', async (t) => {
  const objects = render('overlays/dev');
  const api = find(objects, 'Deployment', API);
  t.equal(api.spec.replicas, 1);
  t.same(ofKind(objects, 'HorizontalPodAutoscaler'), [], 'no HPA to scale it back up');
  const container = apiContainer(objects);
  t.equal(container.image, 'project:dev');
  t.equal(container.imagePullPolicy, 'Never', 'the image exists only inside the node');
  t.equal(container.resources.limits.cpu, '1', 'one core: one worker');
  t.ok(ofKind(objects, 'Namespace').length === 1, 'creates its namespace, so a fresh cluster needs only apply -k');
  const namespace = ofKind(objects, 'Namespace')[0]!.metadata.name;
  for (const o of objects.filter((o) => o.kind !== 'Namespace'))
    t.equal(o.metadata.namespace, namespace, `${o.kind}/${o.metadata.name} is in ${namespace}`);
});

t.test('The prod overlay pulls an immutable registry tag and autoscales within production bounds.', async (t) => {
  const objects = render('overlays/prod');
  const image: string = apiContainer(objects).image;
  const [repository, tag] = image.split(/:(?=[^/:]+$)/) as [string, string | undefined];
  t.match(repository.split('/')[0], /[.:]/, `${image} names a registry host`);
  t.ok(
    image.includes('@sha256:') || (tag !== undefined && !['latest', 'dev', 'main', 'stable'].includes(tag)),
    `${image} has an immutable tag or digest`,
  );
  t.not(apiContainer(objects).imagePullPolicy, 'Never', 'prod pulls from the registry');
  const hpa = find(objects, 'HorizontalPodAutoscaler', 'project-api-hpa');
  t.ok(hpa.spec.minReplicas >= 3, 'at least three pods');
  t.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas, 'room to scale');
});

t.test('The prod overlay spreads API pods across nodes with pod anti-affinity.', async (t) => {
  const objects = render('overlays/prod');
  const api = find(objects, 'Deployment', API);
  const anti = api.spec.template.spec.affinity?.podAntiAffinity;
  const terms = [
    ...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p: { podAffinityTerm: unknown }) => p.podAffinityTerm),
  ];
  const podLabels: Record<string, string> = api.spec.template.metadata.labels;
  const spreads = terms.some(
    (term: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } }) =>
      term.topologyKey === 'kubernetes.io/hostname' &&
      Object.entries(term.labelSelector?.matchLabels ?? {}).length > 0 &&
      Object.entries(term.labelSelector?.matchLabels ?? {}).every(([k, v]) => podLabels[k] === v),
  );
  t.ok(spreads, 'an anti-affinity term on kubernetes.io/hostname selects the API pods');
});

t.test('The prod VirtualService sends /project and everything below it, and nothing else, to the prediction Service.', async (t) => {
  const objects = render('overlays/prod');
  const [vs, ...more] = ofKind(objects, 'VirtualService');
  t.equal(more.length, 0, 'one VirtualService');
  t.ok(
    vs!.spec.gateways.every((g: string) => /^[a-z0-9-]+\/[a-z0-9-]+$/.test(g)),
    `gateways ${vs!.spec.gateways} are <namespace>/<name>`,
  );
  const routes = vs!.spec.http;
  const routeFor = (path: string) => routes.find((r: { match?: [] }) => routeMatches(r.match ?? [{}], path));
  for (const path of ['/project', '/project/bulk-predict', '/project/health', '/project/docs']) {
    const route = routeFor(path);
    t.same(
      route?.route?.map((d: { destination: unknown }) => d.destination),
      [{ host: 'project-prediction-service', port: { number: 8000 } }],
      `${path} goes to project-prediction-service:8000`,
    );
  }
  for (const path of ['/projects', '/project-x', '/metrics', '/lab/predict', '/']) t.notOk(routeFor(path), `${path} is not routed here`);
  t.doesNotThrow(() => find(objects, 'Service', 'project-prediction-service'), 'the destination Service is in the same output');
  t.notOk(
    objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'project-routing-parameters'),
    'the parameter ConfigMap is build-time only',
  );
  t.notOk(JSON.stringify(vs).includes('PARAMETER'), 'no placeholder survives the build');
});

t.test('The prod VirtualService sends the gRPC API services, and not health or reflection, to the gRPC port.', async (t) => {
  const objects = render('overlays/prod');
  const vs = find(objects, 'VirtualService', 'project-prediction-service');
  const routeFor = (path: string) => vs.spec.http.find((r: { match?: [] }) => routeMatches(r.match ?? [{}], path));
  const grpcPort = find(objects, 'Service', 'project-prediction-service').spec.ports.find((p: { name: string }) => p.name === 'grpc');
  // A gRPC call is an HTTP/2 POST to /<package>.<Service>/<Method>.
  for (const path of [
    '/inference.GRPCInferenceService/ModelInfer',
    '/inference.GRPCInferenceService/ServerReady',
    '/tei.v1.Predict/Predict',
    '/tei.v1.Predict/PredictStream',
    '/tei.v1.Rerank/Rerank',
    '/tei.v1.Tokenize/Tokenize',
    '/tei.v1.Info/Info',
  ]) {
    const route = routeFor(path);
    t.same(
      route?.route?.map((d: { destination: unknown }) => d.destination),
      [{ host: 'project-prediction-service', port: { number: grpcPort.port } }],
      `${path} goes to project-prediction-service:${grpcPort.port}`,
    );
    t.equal(route?.timeout, undefined, `${path}: no route timeout, which would cut a stream; grpc-timeout bounds each call`);
    t.notMatch(route?.retries?.retryOn ?? '', /resource-exhausted|unavailable/, `${path}: a refusal for load is not retried`);
  }
  for (const path of [
    '/grpc.health.v1.Health/Check',
    '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
    '/inference.GRPCInferenceServiceX/ModelInfer',
  ])
    t.notOk(routeFor(path), `${path} is not routed here`);
});

t.test('The prod DestinationRule balances each gRPC call to the pod with the fewest calls in flight.', async (t) => {
  const objects = render('overlays/prod');
  const rule = find(objects, 'DestinationRule', 'project-prediction-service');
  t.equal(rule.spec.host, 'project-prediction-service', 'the API Service, by its short name (same namespace)');
  t.equal(rule.metadata.namespace, find(objects, 'Service', 'project-prediction-service').metadata.namespace);
  const grpcPort = find(objects, 'Service', 'project-prediction-service').spec.ports.find((p: { name: string }) => p.name === 'grpc');
  const settings = rule.spec.trafficPolicy.portLevelSettings.find((s: { port: { number: number } }) => s.port.number === grpcPort.port);
  t.same(settings?.loadBalancer, { simple: 'LEAST_REQUEST' });
  t.equal(rule.spec.trafficPolicy.tls, undefined, "no tls block: the mesh's automatic mTLS stays on");
});

t.test('The prod gateway and host are parameters: changing routing-parameters.yaml changes the VirtualService.', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'k8s-prod-parameter-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(kustomizeRoot, copy, { recursive: true });
  const parameters = join(copy, 'overlays', 'prod', 'routing-parameters.yaml');
  const original = readFileSync(parameters, 'utf8');
  const edited = original.replace(/^(\s*gateway:).*$/m, '$1 shared-ingress/main-gateway').replace(/^(\s*host:).*$/m, '$1 api.example.com');
  t.not(edited, original, 'the parameter file has gateway and host keys');
  writeFileSync(parameters, edited);
  const vs = ofKind(renderDir(join(copy, 'overlays', 'prod')), 'VirtualService')[0]!;
  t.same(vs.spec.gateways, ['shared-ingress/main-gateway']);
  t.same(vs.spec.hosts, ['api.example.com']);
});

t.test('Under Istio, the prod pods keep Redis traffic and the drain working.', async (t) => {
  const objects = render('overlays/prod');
  const namespace = ofKind(objects, 'Namespace')[0];
  t.equal(namespace?.metadata.labels?.['istio-injection'], 'enabled', 'the namespace gets sidecars');
  const annotations = find(objects, 'Deployment', API).spec.template.metadata.annotations ?? {};
  t.ok(
    String(annotations['traffic.sidecar.istio.io/excludeOutboundPorts'] ?? '')
      .split(',')
      .includes('6379'),
    'init containers reach Redis before the sidecar runs',
  );
  const drain = JSON.parse(annotations['proxy.istio.io/config'] ?? '{}').terminationDrainDuration as string | undefined;
  const grace = find(objects, 'Deployment', API).spec.template.spec.terminationGracePeriodSeconds as number;
  t.ok(
    drain && parseInt(drain, 10) >= 20 && parseInt(drain, 10) < grace,
    `the sidecar drains (${drain}) through the app's 20 s drain and within the grace period`,
  );
  t.equal(
    find(objects, 'Deployment', 'redis-deployment').spec.template.metadata.labels['sidecar.istio.io/inject'],
    'false',
    'Redis speaks plain TCP, like its clients',
  );
});

t.test('The prod overlay ships the Grafana dashboard and Prometheus scraping.', async (t) => {
  const objects = render('overlays/prod');
  t.ok(
    objects.some((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1'),
    'a dashboard ConfigMap for the Grafana sidecar',
  );
  const annotations = find(objects, 'Deployment', API).spec.template.metadata.annotations ?? {};
  t.equal(annotations['prometheus.io/scrape'], 'true');
});
