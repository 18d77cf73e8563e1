// Deployment rules, checked on what `kubectl kustomize` renders for every variant (not on the source YAML).
import t from 'tap';
import { checkCpuAndMemory, checkPinnedImages, checkRestricted } from './fixtures/k8s-container-rules.js';
import { VARIANTS, find, ofKind, parseQuantity, render, type K8sObject } from './fixtures/k8s-render.js';

const API = 'project-api-deployment';
const API_CONTAINER = 'project-api';
const REDIS = 'redis-deployment';

/** Service defaults (schemas/config.json) for settings the ConfigMap may leave out. */
const SERVICE_DEFAULTS: Record<string, string> = {
  PORT: '8000',
  GRPC_PORT: '8001',
  BASE_PATH: '/project',
  SHUTDOWN_GRACE_MS: '15000',
  METRICS_PATH: '/metrics',
  INTRA_OP_THREADS: '1',
};

function apiContainer(objects: K8sObject[]) {
  return find(objects, 'Deployment', API).spec.template.spec.containers.find((c: { name: string }) => c.name === API_CONTAINER);
}

/** The service's effective settings: defaults, then the envFrom ConfigMaps, then the container's env values. */
function serviceEnv(objects: K8sObject[]): Record<string, string> {
  const container = apiContainer(objects);
  const env: Record<string, string> = { ...SERVICE_DEFAULTS };
  for (const source of container.envFrom ?? []) {
    Object.assign(env, find(objects, 'ConfigMap', source.configMapRef.name).data);
  }
  for (const entry of container.env ?? []) if (entry.value !== undefined) env[entry.name] = entry.value;
  return env;
}

function selects(selector: { matchLabels?: Record<string, string> }, labels: Record<string, string>): boolean {
  const wanted = Object.entries(selector.matchLabels ?? {});
  return wanted.length > 0 && wanted.every(([k, v]) => labels[k] === v);
}

/** Seconds the preStop hook holds the container before SIGTERM (exec `sleep N` or the native sleep action). */
function preStopSeconds(container: { lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } } }): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  const match = /^(?:sleep|\/bin\/sleep) (\d+)$/.exec(command.join(' '));
  if (!match) throw new Error(`preStop is not a plain sleep: ${JSON.stringify(preStop)}`);
  return Number(match[1]);
}

/** Redis memory units (redis.conf): 1k = 1000, 1kb = 1024, 1m = 10^6, 1mb = 2^20, 1g, 1gb. */
function redisBytes(value: string): number {
  const match = /^(\d+)(k|kb|m|mb|g|gb)?$/i.exec(value);
  if (!match) throw new Error(`not a Redis memory value: ${value}`);
  const unit = (match[2] ?? '').toLowerCase();
  const factor: Record<string, number> = { '': 1, k: 1e3, kb: 2 ** 10, m: 1e6, mb: 2 ** 20, g: 1e9, gb: 2 ** 30 };
  return Number(match[1]) * factor[unit]!;
}

function argAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

t.test('The redisBytes and preStopSeconds helpers read the units and forms used in the manifests.', async (t) => {
  t.equal(redisBytes('192mb'), 192 * 2 ** 20);
  t.equal(redisBytes('200m'), 200e6);
  t.throws(() => redisBytes('192 MiB'));
  t.equal(preStopSeconds({ lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } } }), 5);
  t.equal(preStopSeconds({ lifecycle: { preStop: { sleep: { seconds: 7 } } } }), 7);
  t.throws(() => preStopSeconds({ lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 5; kill 1'] } } } }));
});

for (const variant of VARIANTS) {
  t.test(`kustomize/${variant}: the deployment follows the deployment rules.`, async (t) => {
    const objects = render(variant);
    const api = find(objects, 'Deployment', API);
    const podSpec = api.spec.template.spec;
    const podLabels = api.spec.template.metadata.labels;
    const container = apiContainer(objects);
    const env = serviceEnv(objects);

    t.test('The objects have the names other tooling and the tests rely on.', async (t) => {
      for (const [kind, name] of [
        ['Deployment', API],
        ['Service', 'project-prediction-service'],
        ['Deployment', REDIS],
        ['Service', 'redis-service'],
        ['PodDisruptionBudget', 'project-api-pdb'],
      ]) {
        t.doesNotThrow(() => find(objects, kind!, name!), `${kind} ${name}`);
      }
      t.ok(container, `the API pod has a container named ${API_CONTAINER}`);
      t.ok(selects(api.spec.selector, podLabels), 'the Deployment selector matches its own pod template');
      const redis = find(objects, 'Deployment', REDIS);
      t.ok(selects(redis.spec.selector, redis.spec.template.metadata.labels), 'the Redis selector matches its own pod template');
      t.notOk(selects(api.spec.selector, redis.spec.template.metadata.labels), 'the API selector does not pick up Redis pods');
    });

    t.test('Both Services are ClusterIP and reach a named container port of the pods they select.', async (t) => {
      for (const [serviceName, deploymentName, port] of [
        ['project-prediction-service', API, 8000],
        ['redis-service', REDIS, 6379],
      ] as const) {
        const service = find(objects, 'Service', serviceName);
        const deployment = find(objects, 'Deployment', deploymentName);
        t.equal(service.spec.type ?? 'ClusterIP', 'ClusterIP', `${serviceName} is ClusterIP`);
        t.ok(
          selects({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels),
          `${serviceName} selects ${deploymentName} pods`,
        );
        const servicePort = service.spec.ports.find((p: { port: number }) => p.port === port);
        t.ok(servicePort, `${serviceName} exposes ${port}`);
        const containerPorts = deployment.spec.template.spec.containers.flatMap((c: { ports?: unknown[] }) => c.ports ?? []);
        const target = containerPorts.find(
          (p: { name?: string; containerPort: number }) => p.name === servicePort.targetPort || p.containerPort === servicePort.targetPort,
        );
        t.equal(target?.containerPort, port, `${serviceName} targets container port ${port}`);
      }
      t.equal(Number(env.PORT), 8000, 'the service listens on the port the Service targets');
    });

    t.test('The API Service also serves the gRPC port, declared as gRPC, on the container port GRPC_PORT names.', async (t) => {
      const grpcPort = Number(env.GRPC_PORT);
      t.equal(grpcPort, 8001, "GRPC_PORT is Triton's 8001");
      const containerPort = container.ports.find((p: { name?: string }) => p.name === 'grpc');
      t.same(containerPort, { name: 'grpc', containerPort: grpcPort, protocol: 'TCP' }, 'the container port `grpc` is GRPC_PORT');
      const servicePort = find(objects, 'Service', 'project-prediction-service').spec.ports.find(
        (p: { name?: string }) => p.name === 'grpc',
      );
      t.same(
        servicePort,
        { name: 'grpc', port: grpcPort, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
        'the Service port `grpc` targets it with appProtocol grpc (meshes balance each call)',
      );
    });

    t.test('Startup and liveness probes GET the health route on the HTTP port; readiness asks gRPC health on GRPC_PORT.', async (t) => {
      const healthPath = `${env.BASE_PATH}/health`;
      t.equal(healthPath, '/project/health');
      const portNumber = (port: string | number) =>
        typeof port === 'number' ? port : container.ports.find((p: { name: string }) => p.name === port)?.containerPort;
      for (const probe of ['startupProbe', 'livenessProbe']) {
        t.equal(container[probe]?.httpGet?.path, healthPath, `${probe} path`);
        t.equal(portNumber(container[probe]?.httpGet?.port), 8000, `${probe} port`);
      }
      // The native gRPC probe: grpc.health.v1.Health/Check with the empty service name (the whole server).
      t.same(Object.keys(container.readinessProbe.grpc ?? {}), ['port'], 'readinessProbe is a gRPC probe of the whole server');
      t.equal(container.readinessProbe.grpc?.port, Number(env.GRPC_PORT), 'on the port the gRPC server listens on');
      t.equal(container.readinessProbe.httpGet, undefined, 'and only that');
      const window = (p: { periodSeconds?: number; failureThreshold?: number }) => (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3);
      t.ok(window(container.startupProbe) >= 60, 'the startup probe allows at least a minute for a cold start');
      const drainSeconds = preStopSeconds(container) + Number(env.SHUTDOWN_GRACE_MS) / 1000;
      t.ok(window(container.livenessProbe) > drainSeconds, 'liveness does not restart a pod whose health is 503 because it is draining');
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        t.ok(
          (container[probe].timeoutSeconds ?? 1) < (container[probe].periodSeconds ?? 10),
          `${probe} times out before the next one starts`,
        );
      }
    });

    t.test('Two init containers wait for the Redis DNS name and then for a PING answer.', async (t) => {
      const init = podSpec.initContainers ?? [];
      t.same(
        init.map((c: { name: string }) => c.name),
        ['init-verify-redis-service-dns', 'init-verify-redis-ready'],
      );
      for (const c of init) t.match(c.image, /^busybox:\d+\.\d+\.\d+/, `${c.name} uses a pinned busybox`);
      const script = (c: { command?: string[]; args?: string[] }) => [...(c.command ?? []), ...(c.args ?? [])].join(' ');
      t.match(script(init[0]), /nslookup redis-service\b/);
      t.match(script(init[0]), /^sh -c until /, 'the DNS check loops until it succeeds');
      t.match(script(init[1]), /PING.*nc .*redis-service 6379.*PONG/);
      t.match(script(init[1]), /^sh -c until /, 'the PING check loops until it succeeds');
    });

    t.test('The container gets REDIS_URL, the settings ConfigMap and its CPU limit through the Downward API.', async (t) => {
      const byName = Object.fromEntries((container.env ?? []).map((e: { name: string }) => [e.name, e]));
      // With the password from the Secret (test/kustomize-hardening.test.ts).
      t.equal(byName.REDIS_URL?.value, 'redis://:$(REDIS_PASSWORD)@redis-service:6379');
      t.same(byName.CPU_LIMIT?.valueFrom?.resourceFieldRef, { containerName: API_CONTAINER, resource: 'limits.cpu', divisor: '1' });
      t.ok((container.envFrom ?? []).length > 0, 'settings come from a ConfigMap');
      for (const source of container.envFrom ?? [])
        t.doesNotThrow(
          () => find(objects, 'ConfigMap', source.configMapRef.name),
          `ConfigMap ${source.configMapRef?.name} is part of the output`,
        );
      const cpuLimit = parseQuantity(container.resources.limits.cpu);
      t.ok(
        Number.isInteger(cpuLimit) && cpuLimit >= 1,
        'limits.cpu is whole cores: the Downward API rounds it up, and the service runs floor(CPU_LIMIT) workers',
      );
      const workers = env.WORKERS !== undefined ? Number(env.WORKERS) : Math.max(1, Math.floor(cpuLimit));
      t.ok(workers * Number(env.INTRA_OP_THREADS) <= cpuLimit, 'workers x intra-op threads stay within the CPU limit');
    });

    t.test('Every container, init containers included, has CPU and memory requests and limits, requests <= limits.', async (t) => {
      checkCpuAndMemory(t, objects);
      t.equal(
        container.resources.requests.memory,
        container.resources.limits.memory,
        'the API memory request equals its limit (ONNX Runtime keeps its peak)',
      );
    });

    t.test('Pods run as non-root with a read-only root filesystem, no privilege escalation and no capabilities.', async (t) => {
      checkRestricted(t, objects);
      const tmp = container.volumeMounts?.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      t.ok(tmp, 'the API container mounts a writable /tmp');
      t.ok(
        podSpec.volumes.find((v: { name: string; emptyDir?: unknown }) => v.name === tmp?.name && v.emptyDir),
        '/tmp is an emptyDir',
      );
    });

    t.test('Every image names a pinned tag or digest, never latest.', async (t) => {
      checkPinnedImages(t, objects);
    });

    t.test('The grace period exceeds the preStop sleep plus SHUTDOWN_GRACE_MS.', async (t) => {
      const sleep = preStopSeconds(container);
      t.ok(sleep > 0, 'a preStop pause lets endpoints drop the pod before SIGTERM');
      const drain = sleep + Number(env.SHUTDOWN_GRACE_MS) / 1000;
      t.ok(
        podSpec.terminationGracePeriodSeconds > drain,
        `terminationGracePeriodSeconds ${podSpec.terminationGracePeriodSeconds} > ${drain}`,
      );
    });

    t.test('The PodDisruptionBudget selects the API pods only and still lets a drain evict one.', async (t) => {
      const pdb = find(objects, 'PodDisruptionBudget', 'project-api-pdb');
      t.ok(selects(pdb.spec.selector, podLabels), 'selects the API pods');
      t.notOk(selects(pdb.spec.selector, find(objects, 'Deployment', REDIS).spec.template.metadata.labels), 'does not select Redis');
      const hpa = ofKind(objects, 'HorizontalPodAutoscaler')[0];
      const minReplicas = hpa?.spec.minReplicas ?? api.spec.replicas ?? 1;
      const allowed = pdb.spec.maxUnavailable !== undefined ? Number(pdb.spec.maxUnavailable) : minReplicas - Number(pdb.spec.minAvailable);
      t.ok(allowed >= 1, `at least one pod may be evicted at the minimum of ${minReplicas} replicas`);
    });

    t.test('Redis is one replica with maxmemory below its memory limit, LRU eviction and no persistence.', async (t) => {
      const redis = find(objects, 'Deployment', REDIS);
      t.equal(redis.spec.replicas, 1);
      const c = redis.spec.template.spec.containers[0];
      const args: string[] = [...(c.command ?? []), ...(c.args ?? [])];
      const maxmemory = argAfter(args, '--maxmemory');
      t.ok(maxmemory, 'sets --maxmemory');
      if (maxmemory)
        t.ok(
          redisBytes(maxmemory) < parseQuantity(c.resources.limits.memory),
          `maxmemory ${maxmemory} < limit ${c.resources.limits.memory}`,
        );
      t.equal(argAfter(args, '--maxmemory-policy'), 'allkeys-lru');
      t.equal(argAfter(args, '--save'), '', 'no RDB snapshots');
      t.equal(argAfter(args, '--appendonly'), 'no', 'no AOF');
    });

    t.test('Scraping annotations, where present, point at the metrics path on the service port.', async (t) => {
      const annotations = api.spec.template.metadata.annotations ?? {};
      if (annotations['prometheus.io/scrape'] === undefined) return t.pass('no annotation-based scraping in this variant');
      t.equal(annotations['prometheus.io/scrape'], 'true');
      t.equal(annotations['prometheus.io/port'], env.PORT);
      t.equal(annotations['prometheus.io/path'], env.METRICS_PATH);
    });
  });
}

t.test('Where there is an autoscaler, it scales the API Deployment on CPU with scale-up and scale-down behaviour.', async (t) => {
  for (const variant of VARIANTS) {
    const objects = render(variant);
    for (const hpa of ofKind(objects, 'HorizontalPodAutoscaler')) {
      t.equal(hpa.apiVersion, 'autoscaling/v2');
      t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: API }, `${variant}: targets ${API}`);
      t.doesNotThrow(() => find(objects, 'Deployment', hpa.spec.scaleTargetRef.name), `${variant}: the target is in the same output`);
      const cpu = hpa.spec.metrics.find(
        (m: { type: string; resource?: { name: string } }) => m.type === 'Resource' && m.resource?.name === 'cpu',
      );
      t.equal(cpu?.resource.target.type, 'Utilization', `${variant}: CPU utilisation target`);
      t.ok(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas, `${variant}: 1 <= min <= max`);
      t.ok(
        hpa.spec.behavior?.scaleUp?.policies?.length && hpa.spec.behavior?.scaleDown?.policies?.length,
        `${variant}: both behaviours set`,
      );
      t.equal(find(objects, 'Deployment', API).spec.replicas, undefined, `${variant}: the Deployment leaves replicas to the HPA`);
    }
  }
});
