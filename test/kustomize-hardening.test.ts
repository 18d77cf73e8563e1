// Redis behind a password from a Secret, NetworkPolicies around Redis and the API pods, and ephemeral-storage
// requests and limits: checked on what `kubectl kustomize` renders for every variant, and the prod parameters
// checked by editing them in a copy of the tree.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { checkEphemeralStorage } from './fixtures/k8s-container-rules.js';
import {
  VARIANTS,
  containersOf,
  find,
  kustomizeRoot,
  ofKind,
  render,
  renderDir,
  type K8sObject,
  type Variant,
} from './fixtures/k8s-render.js';

const API = 'project-api-deployment';
const REDIS = 'redis-deployment';
const prodParameters = (file: string) =>
  parse(readFileSync(join(kustomizeRoot, 'overlays', 'prod', file), 'utf8')).data as Record<string, string>;

/** The Redis password's Secrets (the base also generates the cache signing keys', test/kustomize-cache-signing.test.ts). */
const redisSecrets = (objects: K8sObject[]) => ofKind(objects, 'Secret').filter((s) => s.metadata.name.startsWith('redis-auth'));

/** The Secret name every variant's pods read the Redis password from. */
const EXPECTED_SECRET: Record<Variant, (objects: K8sObject[]) => string> = {
  base: () => 'redis-auth',
  'overlays/dev': (objects) => redisSecrets(objects)[0]!.metadata.name,
  'overlays/prod': () => prodParameters('redis-auth-parameters.yaml').secretName!,
};

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
const container = (objects: K8sObject[], deployment: string, name: string, init = false) =>
  containersOf(find(objects, 'Deployment', deployment).spec.template.spec).find((c) => c.init === init && c.container.name === name)!
    .container;
const envOf = (c: { env?: EnvVar[] }) => c.env ?? [];
const matches = (selector: { matchLabels?: Record<string, string> }, labels: Record<string, string>) =>
  Object.keys(selector.matchLabels ?? {}).length > 0 && Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
const podLabels = (objects: K8sObject[], deployment: string) =>
  find(objects, 'Deployment', deployment).spec.template.metadata.labels as Record<string, string>;

for (const variant of VARIANTS) {
  t.test(`kustomize/${variant}: Redis requires a password from a Secret, and REDIS_URL is built from it.`, async (t) => {
    const objects = render(variant);
    const secretName = EXPECTED_SECRET[variant](objects);
    const fromSecret = (c: { env?: EnvVar[] }, where: string) => {
      const entry = envOf(c).find((e) => e.name === 'REDIS_PASSWORD');
      t.same(
        entry?.valueFrom?.secretKeyRef,
        { name: secretName, key: 'password' },
        `${where}: REDIS_PASSWORD from Secret ${secretName}, key password`,
      );
    };
    const redis = container(objects, REDIS, 'redis');
    fromSecret(redis, 'redis');
    const args: string[] = [...(redis.command ?? []), ...(redis.args ?? [])];
    t.equal(args[args.indexOf('--requirepass') + 1], '$(REDIS_PASSWORD)', 'redis-server --requirepass $(REDIS_PASSWORD)');
    t.equal(
      envOf(redis).find((e) => e.name === 'REDISCLI_AUTH')?.value,
      '$(REDIS_PASSWORD)',
      'the redis-cli readiness probe authenticates',
    );

    const api = container(objects, API, 'project-api');
    fromSecret(api, 'project-api');
    const names = envOf(api).map((e) => e.name);
    t.equal(
      envOf(api).find((e) => e.name === 'REDIS_URL')?.value,
      'redis://:$(REDIS_PASSWORD)@redis-service:6379',
      'REDIS_URL carries the password',
    );
    t.ok(
      names.indexOf('REDIS_PASSWORD') < names.indexOf('REDIS_URL'),
      'REDIS_PASSWORD comes first: $(VAR) expands only variables defined before it',
    );

    const init = container(objects, API, 'init-verify-redis-ready', true);
    fromSecret(init, 'init-verify-redis-ready');
    t.match(
      [...(init.command ?? []), ...(init.args ?? [])].join(' '),
      /printf 'AUTH %s\\r\\nPING\\r\\n' "\$REDIS_PASSWORD" \| nc .*redis-service 6379 .*PONG/,
      'the readiness check authenticates before PING',
    );

    const literals = ofKind(objects, 'Deployment')
      .flatMap((d) => containersOf(d.spec.template.spec))
      .flatMap(({ container: c }) => envOf(c))
      .filter((e) => /PASSWORD|AUTH/.test(e.name) && e.value !== undefined && e.value !== '$(REDIS_PASSWORD)');
    t.same(literals, [], 'no password is written into a pod spec');

    const secrets = redisSecrets(objects);
    if (variant === 'overlays/dev') {
      t.equal(secrets.length, 1, 'dev generates the Secret');
      t.match(secretName, /^redis-auth-[a-z0-9]+$/, 'with a content hash, so a new password rolls the pods');
      const password = Buffer.from(secrets[0]!.data.password, 'base64').toString('utf8');
      t.match(password, /^[A-Za-z0-9._~-]{16,}$/, 'URL-safe and not trivially short');
    } else {
      t.same(secrets, [], 'no Secret in the output: the password is never in git');
    }
  });

  t.test(
    `kustomize/${variant}: NetworkPolicies let only the API pods reach Redis on 6379, and the API pods be reached on 8000 only from the gateway and monitoring namespaces, on gRPC's 8001 only from the gateway's.`,
    async (t) => {
      const objects = render(variant);
      const policies = ofKind(objects, 'NetworkPolicy');
      for (const deployment of [API, REDIS]) {
        t.ok(
          policies.some((p) => matches(p.spec.podSelector, podLabels(objects, deployment))),
          `${deployment} pods are selected by a policy (all other ingress is denied)`,
        );
      }

      const redisPolicy = find(objects, 'NetworkPolicy', 'redis-network-policy');
      t.ok(matches(redisPolicy.spec.podSelector, podLabels(objects, REDIS)), 'selects the Redis pods');
      t.notOk(matches(redisPolicy.spec.podSelector, podLabels(objects, API)), 'and not the API pods');
      t.same(redisPolicy.spec.policyTypes, ['Ingress']);
      t.equal(redisPolicy.spec.ingress.length, 1, 'one rule');
      const [redisRule] = redisPolicy.spec.ingress;
      t.same(redisRule.ports, [{ protocol: 'TCP', port: 6379 }], 'port 6379 only');
      t.equal(redisRule.from.length, 1, 'one peer');
      t.same(Object.keys(redisRule.from[0]), ['podSelector'], "a pod selector in the policy's namespace: no namespaceSelector, no ipBlock");
      t.ok(matches(redisRule.from[0].podSelector, podLabels(objects, API)), 'the peer is the API pods');
      t.notOk(matches(redisRule.from[0].podSelector, podLabels(objects, REDIS)), 'and nothing else of the project');

      const apiPolicy = find(objects, 'NetworkPolicy', 'project-api-network-policy');
      t.ok(matches(apiPolicy.spec.podSelector, podLabels(objects, API)), 'selects the API pods');
      t.same(apiPolicy.spec.policyTypes, ['Ingress']);
      t.equal(apiPolicy.spec.ingress.length, 2, 'two rules: HTTP, and gRPC');
      const [apiRule, grpcRule] = apiPolicy.spec.ingress;
      const [apiPort, grpcPort, ...otherPorts] = find(objects, 'Service', 'project-prediction-service').spec.ports;
      t.same(apiRule.ports, [{ protocol: 'TCP', port: 8000 }], 'port 8000 only');
      t.equal(apiPort.port, 8000, 'the port the Service serves');
      t.same(grpcRule.ports, [{ protocol: 'TCP', port: 8001 }], 'port 8001 only');
      t.equal(grpcPort?.port, 8001, 'the gRPC port the Service serves');
      t.same(otherPorts, [], 'the Service serves no port the policy does not open');
      const namespacesOf = (rule: { from: Record<string, any>[] }) =>
        rule.from.map((peer) => {
          t.same(Object.keys(peer), ['namespaceSelector'], 'each peer is a whole namespace, selected by name');
          t.same(Object.keys(peer.namespaceSelector.matchLabels), ['kubernetes.io/metadata.name']);
          return peer.namespaceSelector.matchLabels['kubernetes.io/metadata.name'];
        });
      const prod = variant === 'overlays/prod';
      const { ingressNamespace, monitoringNamespace } = prod
        ? prodParameters('routing-parameters.yaml')
        : { ingressNamespace: 'ingress-nginx', monitoringNamespace: 'monitoring' };
      t.same(
        namespacesOf(apiRule),
        [ingressNamespace, monitoringNamespace],
        prod ? 'prod: the namespaces of routing-parameters.yaml' : 'the base defaults',
      );
      t.same(namespacesOf(grpcRule), [ingressNamespace], "gRPC: the gateway's namespace only (Prometheus scrapes over HTTP)");
    },
  );

  t.test(
    `kustomize/${variant}: every container has ephemeral-storage requests and limits that cover the emptyDirs it mounts.`,
    async (t) => {
      checkEphemeralStorage(t, render(variant));
    },
  );
}

t.test('The prod parameters drive the Secret name and the allowed namespaces.', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'k8s-prod-hardening-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(kustomizeRoot, copy, { recursive: true });
  const edit = (file: string, key: string, value: string) => {
    const path = join(copy, 'overlays', 'prod', file);
    const original = readFileSync(path, 'utf8');
    const edited = original.replace(new RegExp(`^(\\s*${key}:).*$`, 'm'), `$1 ${value}`);
    t.not(edited, original, `${file} has the key ${key}`);
    writeFileSync(path, edited);
  };
  edit('redis-auth-parameters.yaml', 'secretName', 'vault-synced-redis');
  edit('routing-parameters.yaml', 'ingressNamespace', 'gateways');
  edit('routing-parameters.yaml', 'monitoringNamespace', 'observability');
  const objects = renderDir(join(copy, 'overlays', 'prod'));
  const refs = ofKind(objects, 'Deployment')
    .flatMap((d) => containersOf(d.spec.template.spec))
    .flatMap(({ container: c }) => envOf(c))
    .map((e) => e.valueFrom?.secretKeyRef?.name)
    .filter((name) => name !== undefined);
  t.same(
    refs,
    ['vault-synced-redis', 'vault-synced-redis', 'vault-synced-redis'],
    'Redis, the API and its init container read the named Secret',
  );
  const [httpRule, grpcRule] = find(objects, 'NetworkPolicy', 'project-api-network-policy').spec.ingress;
  const peerNamespaces = (rule: { from: any[] }) => rule.from.map((p) => p.namespaceSelector.matchLabels['kubernetes.io/metadata.name']);
  t.same(peerNamespaces(httpRule), ['gateways', 'observability']);
  t.same(peerNamespaces(grpcRule), ['gateways'], 'the gRPC rule follows ingressNamespace too');
  t.same(
    ofKind(objects, 'ConfigMap').filter((c) => /parameters/.test(c.metadata.name)),
    [],
    'the parameter ConfigMaps are not applied',
  );
});
