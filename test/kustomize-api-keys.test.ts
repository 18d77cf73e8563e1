// The api-keys component: the Secret project-api-keys is mounted as a directory (so a rotation reaches the file),
// API_KEYS_FILE names the file in it, the service reads that environment as a key file, and no key is in git.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadConfig } from '../dist/src/config.js';
import { readApiKeysFile } from '../dist/src/api-key-source.js';
import { find, keyFileWiring, kustomizeRoot, ofKind, renderBaseWith, renderDir, type K8sObject } from './fixtures/k8s-render.js';

const API = 'project-api-deployment';
const COMPONENT = join(kustomizeRoot, 'components', 'api-keys');

const wiringOf = (objects: K8sObject[]) => keyFileWiring(objects, 'api-keys', 'API_KEYS_FILE');

t.test('the Secret is mounted as a directory and API_KEYS_FILE names its key file', async (t) => {
  const objects = renderBaseWith(['api-keys']);
  const { env, mount, volume, file } = wiringOf(objects);
  t.equal(volume.secret.secretName, 'project-api-keys');
  t.same(volume.secret.items, [{ key: 'keys', path: 'keys' }], 'the Secret key `keys`, as the file `keys`');
  t.notOk(volume.secret.optional, 'not optional: no Secret, no pod, rather than an API without keys');
  t.ok(mount, 'the container mounts it');
  t.equal(mount.subPath, undefined, 'no subPath: a subPath mount never sees a rotated Secret');
  t.equal(mount.readOnly, true);
  t.equal(file, `${mount.mountPath}/${volume.secret.items[0].path}`, 'API_KEYS_FILE is the mounted key file');
  t.equal(
    env.find((e) => e.name === 'API_KEYS'),
    undefined,
    'no API_KEYS beside it (the two are exclusive)',
  );

  const config = loadConfig(Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])));
  t.equal(config.apiKeysFile, file, 'the service reads the pod environment as a key file');
  t.same(config.apiKeyRoutes, ['predict'], 'with the default routes: probes and scraping stay open');

  const spec = find(objects, 'Deployment', API).spec.template.spec;
  t.ok(
    spec.containers[0].volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'),
    'the base mounts are kept',
  );
  t.same(
    ofKind(objects, 'Secret').filter((s) => s.metadata.name.startsWith('project-api-keys')),
    [],
    'no Secret is rendered: it is created in the cluster, never in git',
  );
});

t.test('no key in git: the component holds no Secret and no generator', async (t) => {
  for (const name of readdirSync(COMPONENT)) {
    const text = readFileSync(join(COMPONENT, name), 'utf8');
    if (name.endsWith('.yaml')) {
      t.notMatch(text, /^kind: Secret/m, `${name}: no Secret`);
      t.notMatch(text, /secretGenerator/, `${name}: no generator`);
    }
  }
});

t.test('an overlay that generates the Secret gets its hashed name wired into the volume', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-api-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A placeholder, as a local cluster might generate; the real keys come from a file outside git.
  const keys = '# local cluster only\nlocal-placeholder-key-1\nlocal-placeholder-key-2\n';
  writeFileSync(join(dir, 'api-keys.txt'), keys);
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${relative(dir, join(kustomizeRoot, 'base'))}`,
      'components:',
      `  - ${relative(dir, COMPONENT)}`,
      'secretGenerator:',
      '  - name: project-api-keys',
      '    files:',
      '      - keys=api-keys.txt',
      '',
    ].join('\n'),
  );
  const objects = renderDir(dir);
  const [secret] = ofKind(objects, 'Secret').filter((s) => s.metadata.name.startsWith('project-api-keys'));
  t.match(secret.metadata.name, /^project-api-keys-[a-z0-9]+$/, 'the generated Secret has a hash suffix');
  t.equal(wiringOf(objects).volume.secret.secretName, secret.metadata.name, 'and the volume reads it by that name');
  const mounted = join(dir, 'keys');
  writeFileSync(mounted, Buffer.from(secret.data.keys, 'base64'));
  t.same(readApiKeysFile(mounted), ['local-placeholder-key-1', 'local-placeholder-key-2'], 'the file the pod reads gives the keys');
});
