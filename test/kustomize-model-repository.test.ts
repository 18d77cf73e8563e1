// The model-repository component: an emptyDir at /models filled by an init container that runs the image's
// `model:fetch --list` for the list in a generated ConfigMap, mounted read-only into the API container with
// MODEL_REPOSITORY and DEFAULT_MODEL set and the image's MODEL_DIR unset; rendered on the base, on the prod
// overlay and after redis-cluster, each held to the container rules every variant follows.
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest } from '../dist/model/manifest.js';
import { parseModelList } from '../dist/model/model-list.js';
import { checkCpuAndMemory, checkEphemeralStorage, checkPinnedImages, checkRestricted } from './fixtures/k8s-container-rules.js';
import {
  containersOf,
  find,
  kustomizeRoot,
  ofKind,
  parseQuantity,
  render,
  renderBaseWith,
  renderDir,
  type K8sObject,
} from './fixtures/k8s-render.js';
import { repoRoot } from './helper.js';

const API = 'project-api-deployment';
const COMPONENT = join(kustomizeRoot, 'components', 'model-repository');
const LIST_FILE = join(COMPONENT, 'models.json');

type Env = { name: string; value?: string };
type Mount = { name: string; mountPath: string; readOnly?: boolean };

function wiring(objects: K8sObject[]) {
  const spec = find(objects, 'Deployment', API).spec.template.spec;
  const containers = containersOf(spec);
  const fetcher = containers.find((c) => c.init && c.container.name === 'fetch-models')?.container;
  const api = containers.find((c) => !c.init && c.container.name === 'project-api')!.container;
  const volume = (name: string | undefined) => spec.volumes.find((v: { name: string }) => v.name === name);
  const env = Object.fromEntries(((api.env ?? []) as Env[]).map((e) => [e.name, e.value]));
  return { spec, fetcher, api, volume, env };
}

/** The prod overlay with the component in its own components (as a user adds it), in a copy of the tree. */
function renderProdWithComponent(): K8sObject[] {
  const copy = mkdtempSync(join(tmpdir(), 'k8s-model-repository-'));
  try {
    cpSync(kustomizeRoot, copy, { recursive: true });
    const file = join(copy, 'overlays', 'prod', 'kustomization.yaml');
    const original = readFileSync(file, 'utf8');
    const edited = original.replace(/^components:\n/m, 'components:\n  - ../../components/model-repository\n');
    if (edited === original) throw new Error('overlays/prod/kustomization.yaml has no components: list');
    writeFileSync(file, edited);
    return renderDir(join(copy, 'overlays', 'prod'));
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

const RENDERINGS: Record<string, () => K8sObject[]> = {
  'the base': () => renderBaseWith(['model-repository']),
  'the prod overlay': renderProdWithComponent,
  'redis-cluster, then this component': () => renderBaseWith(['redis-cluster', 'model-repository']),
};

for (const [where, renderIt] of Object.entries(RENDERINGS)) {
  t.test(`On ${where}: the init container fills /models from the list, and the API serves it read-only.`, async (t) => {
    const objects = renderIt();
    const { fetcher, api, volume, env } = wiring(objects);
    t.ok(fetcher, 'an init container fetch-models');
    t.equal(fetcher.image, api.image, "the API's image (the overlay's images: rewrite reaches it): the fetcher of the release");
    const args: string[] = [...fetcher.command, ...(fetcher.args ?? [])];
    t.same(args.slice(0, 2), ['node', 'dist/model/fetch.js'], 'node itself: npm would write its logs under a read-only $HOME');
    const listPath = args[args.indexOf('--list') + 1];
    const dest = args[args.indexOf('--dest') + 1];

    const fetcherMounts = fetcher.volumeMounts as Mount[];
    const modelsMount = fetcherMounts.find((m) => m.mountPath === dest)!;
    t.ok(modelsMount, `the init container mounts --dest ${dest}`);
    t.notOk(modelsMount.readOnly, 'and writes it');
    const models = volume(modelsMount.name);
    t.ok(models?.emptyDir, 'an emptyDir');
    t.ok(parseQuantity(models.emptyDir.sizeLimit) > 0, `sized: sizeLimit ${models.emptyDir.sizeLimit}`);
    const listMount = fetcherMounts.find((m) => listPath.startsWith(`${m.mountPath}/`))!;
    t.equal(listMount?.readOnly, true, 'the list is mounted read-only');
    const listConfigMap = find(objects, 'ConfigMap', volume(listMount.name).configMap.name);
    t.match(listConfigMap.metadata.name, /^project-model-list-[a-z0-9]+$/, 'the generated ConfigMap, hashed: a new list rolls the pods');
    t.equal(listConfigMap.data[listPath.split('/').pop()!], readFileSync(LIST_FILE, 'utf8'), "the list file is the ConfigMap's key");
    t.same(Object.keys(fetcher.env.find((e: Env) => e.name === 'HF_ENDPOINT') ?? {}), ['name', 'value'], 'HF_ENDPOINT is a plain value');

    const apiMount = (api.volumeMounts as Mount[]).find((m) => m.name === modelsMount.name);
    t.equal(apiMount?.mountPath, dest, 'the API container mounts the same volume');
    t.equal(apiMount?.readOnly, true, 'read-only: the service never writes its models');
    t.equal(env.MODEL_REPOSITORY, dest, 'MODEL_REPOSITORY is the mounted directory');
    t.equal(env.MODEL_DIR, '', 'MODEL_DIR is emptied: the image sets it, and it excludes MODEL_REPOSITORY (empty counts as unset)');
    const names = parseModelList(JSON.parse(listConfigMap.data['models.json']), 'the ConfigMap').map((m) => m.name);
    t.ok(names.includes(env.DEFAULT_MODEL!), `DEFAULT_MODEL ${env.DEFAULT_MODEL} is a model of the list (${names.join(', ')})`);

    t.test('The same container rules as every variant.', async (t) => {
      checkCpuAndMemory(t, objects);
      checkRestricted(t, objects);
      checkPinnedImages(t, objects);
      checkEphemeralStorage(t, objects);
      t.equal(api.resources.requests.memory, api.resources.limits.memory, 'the API memory request equals its limit');
    });
  });
}

t.test('The list: sentiment is the pinned model with its manifest hashes and the default; a second classifier beside it.', async (t) => {
  const models = parseModelList(JSON.parse(readFileSync(LIST_FILE, 'utf8')), LIST_FILE);
  t.same(
    models.map((m) => m.name),
    ['sentiment', 'toxicity'],
  );
  const [sentiment, toxicity] = models;
  const manifest = await loadManifest(join(repoRoot, 'model', 'manifest.json'));
  t.equal(sentiment!.repo, manifest.repo, "sentiment is the service's pinned model");
  const manifestFiles = [...manifest.files, ...manifest.variants[manifest.defaultVariant]!];
  for (const pin of sentiment!.files)
    t.same(
      pin,
      manifestFiles.find((f) => f.path === pin.path),
      `${pin.path}: pinned as in manifest.json`,
    );
  t.ok(
    sentiment!.files.some((f) => f.path === sentiment!.file && f.sha256 !== null),
    'its ONNX file is pinned by sha256',
  );
  t.match(toxicity!.revision, /^[0-9a-f]{40}$/, 'the unpinned example is at least held to a commit');
  t.equal(wiring(renderBaseWith(['model-repository'])).env.DEFAULT_MODEL, 'sentiment');
});

t.test('The API container is sized above the base for the second model, and the volume above the pinned files.', async (t) => {
  const base = wiring(render('base')).api;
  const { api, volume } = wiring(renderBaseWith(['model-repository']));
  t.ok(parseQuantity(api.resources.limits.memory) > parseQuantity(base.resources.limits.memory), 'more memory than the base');
  t.equal(api.resources.limits.cpu, base.resources.limits.cpu, 'the same CPU: the worker count does not change');
  const pinnedBytes = parseModelList(JSON.parse(readFileSync(LIST_FILE, 'utf8')))
    .flatMap((m) => m.files)
    .reduce((sum, f) => sum + (f.size ?? 0), 0);
  t.ok(parseQuantity(volume('models').emptyDir.sizeLimit) > pinnedBytes, 'the emptyDir holds at least the pinned files');
  t.ok(
    parseQuantity(api.resources.limits['ephemeral-storage']) - parseQuantity(base.resources.limits['ephemeral-storage']) >=
      parseQuantity(volume('models').emptyDir.sizeLimit),
    "the API's ephemeral-storage grows by the models' emptyDir, which counts against the pod",
  );
  t.same(
    ofKind(renderBaseWith(['model-repository']), 'NetworkPolicy').map((p) => p.spec.policyTypes),
    [['Ingress'], ['Ingress']],
    'no policy restricts egress, so the init container reaches the hub without one of its own',
  );
});

t.test('Listed after redis-cluster, whose patch removes the init containers, the fetch is the one init container left.', async (t) => {
  t.same(
    wiring(renderBaseWith(['redis-cluster', 'model-repository'])).spec.initContainers.map((c: { name: string }) => c.name),
    ['fetch-models'],
  );
});
