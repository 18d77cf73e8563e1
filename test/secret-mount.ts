// A Kubernetes Secret volume as the kubelet lays it out, for the tests of key files (API_KEYS_FILE,
// CACHE_SIGNING_KEYS_FILE): `keys` -> `..data/keys`, `..data` -> `..<version>/`; an update writes a new version
// directory and swaps `..data` in one rename, so a reader never sees half a file.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export interface SecretMount {
  /** The mounted key file (what the setting names). */
  readonly file: string;
  /** Publishes new content for the key, as an update of the Secret does. */
  publish(content: string): void;
}

/** A mount in a temporary directory, removed when `t` ends, holding `content` as its key `keys`. */
export function secretMount(t: Test, prefix: string, content: string): SecretMount {
  const mount = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(mount, { recursive: true, force: true }));
  let version = 0;
  const publish = (next: string): void => {
    const dir = `..v${++version}`;
    mkdirSync(join(mount, dir));
    writeFileSync(join(mount, dir, 'keys'), next);
    symlinkSync(dir, join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  };
  publish(content);
  symlinkSync('..data/keys', join(mount, 'keys'));
  return { file: join(mount, 'keys'), publish };
}
