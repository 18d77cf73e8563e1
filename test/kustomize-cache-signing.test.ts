// The cache signing keys in every variant (docs/scaling-out.md#signed-cache-values): the API pods get
// CACHE_SIGNING_KEYS_FILE, the file of a Secret mounted as a directory (so a rotation reaches it), not optional.
// The base (and dev) generate that Secret from a public placeholder, with a hash suffix that rolls the pods when it
// changes, and the service reads the rendered file as its keys; prod renders no Secret and mounts the existing one
// named in cache-signing-parameters.yaml; an overlay's own generator replaces the placeholder.
import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../dist/src/config.js';
import { readSigningKeysFile } from '../dist/src/cache/signing-keys.js';
import { VARIANTS, keyFileWiring, kustomizeRoot, ofKind, render, renderDir, type K8sObject } from './fixtures/k8s-render.js';

const SECRET = 'project-cache-signing-keys';
const prodSecretName = () =>
  (parse(readFileSync(join(kustomizeRoot, 'overlays', 'prod', 'cache-signing-parameters.yaml'), 'utf8')).data as Record<string, string>)
    .secretName;

const wiringOf = (objects: K8sObject[]) => keyFileWiring(objects, 'cache-signing-keys', 'CACHE_SIGNING_KEYS_FILE');

const signingSecrets = (objects: K8sObject[]) => ofKind(objects, 'Secret').filter((s) => s.metadata.name.startsWith(SECRET));

/** The keys the service reads from a rendered Secret, as the kubelet would mount it. */
function keysIn(secret: K8sObject): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-signing-keys-'));
  try {
    writeFileSync(join(dir, 'keys'), Buffer.from(secret.data.keys, 'base64'));
    return readSigningKeysFile(join(dir, 'keys'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const variant of VARIANTS) {
  t.test(`kustomize/${variant}: the API pods read their signing keys from a mounted Secret`, async (t) => {
    const objects = render(variant);
    const { volume, mount, env, file } = wiringOf(objects);
    t.ok(volume?.secret, 'a Secret volume');
    t.same(volume.secret.items, [{ key: 'keys', path: 'keys' }], 'the Secret key `keys`, as the file `keys`');
    t.notOk(volume.secret.optional, 'not optional: no Secret, no pod, rather than unsigned values');
    t.ok(mount, 'the container mounts it');
    t.equal(mount.subPath, undefined, 'no subPath: a subPath mount never sees a rotated Secret');
    t.equal(mount.readOnly, true);
    t.equal(file, `${mount.mountPath}/keys`, 'CACHE_SIGNING_KEYS_FILE is the mounted key file');
    t.equal(
      env.find((e) => e.name === 'CACHE_SIGNING_KEYS'),
      undefined,
      'no CACHE_SIGNING_KEYS beside it (the two are exclusive)',
    );
    const config = loadConfig(Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!])));
    t.equal(config.cacheSigningKeysFile, file, 'the service reads the pod environment as a key file');

    const secrets = signingSecrets(objects);
    if (variant === 'overlays/prod') {
      t.same(secrets, [], 'prod renders no signing Secret: the placeholder is never used there');
      t.equal(volume.secret.secretName, prodSecretName(), 'prod mounts the existing Secret of cache-signing-parameters.yaml');
    } else {
      t.equal(secrets.length, 1, 'the base generates the Secret');
      t.match(secrets[0]!.metadata.name, new RegExp(`^${SECRET}-[a-z0-9]+$`), 'with a hash suffix, so new keys roll the pods');
      t.equal(volume.secret.secretName, secrets[0]!.metadata.name, 'and the volume reads it by that name');
      const keys = keysIn(secrets[0]!);
      t.equal(keys.length, 1, 'the file the pod reads holds one key the service accepts');
      t.match(keys[0], /placeholder/, 'a placeholder that says so');
    }
  });
}

t.test('the prod parameter drives the mounted Secret', async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'k8s-prod-signing-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(kustomizeRoot, copy, { recursive: true });
  const path = join(copy, 'overlays', 'prod', 'cache-signing-parameters.yaml');
  const original = readFileSync(path, 'utf8');
  const edited = original.replace(/^(\s*secretName:).*$/m, '$1 vault-synced-signing-keys');
  t.not(edited, original, 'the parameters have secretName');
  writeFileSync(path, edited);
  const objects = renderDir(join(copy, 'overlays', 'prod'));
  t.equal(wiringOf(objects).volume.secret.secretName, 'vault-synced-signing-keys');
  t.same(signingSecrets(objects), []);
  t.same(
    ofKind(objects, 'ConfigMap').filter((c) => /parameters/.test(c.metadata.name)),
    [],
    'the parameter ConfigMap is not applied',
  );
});

t.test("an overlay's own generator replaces the placeholder (kustomize/README.md#cache-signing-keys)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-signing-overlay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = ['a-real-key-from-outside-git-0123456789abcdef', 'the-previous-key-kept-to-verify-0123456789ab'];
  writeFileSync(join(dir, 'cache-signing-keys.txt'), `${keys.join('\n')}\n`);
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      `  - ${relative(dir, join(kustomizeRoot, 'base'))}`,
      'secretGenerator:',
      `  - name: ${SECRET}`,
      '    behavior: replace',
      '    files:',
      '      - keys=cache-signing-keys.txt',
      '',
    ].join('\n'),
  );
  const objects = renderDir(dir);
  const secrets = signingSecrets(objects);
  t.equal(secrets.length, 1, 'one Secret');
  t.equal(wiringOf(objects).volume.secret.secretName, secrets[0]!.metadata.name, 'mounted by its new hashed name');
  t.same(keysIn(secrets[0]!), keys, 'holding the overlay’s keys, the first one signing');
});
