// Where the API keys come from: API_KEYS (a list, read with the rest of the configuration) or API_KEYS_FILE (one
// key a line, e.g. a mounted Kubernetes Secret), which is checked for a change while the service runs, so a
// rotated Secret takes effect without a restart. The keys themselves never reach a message or a log line.
// The file reading, the watch and the redaction serve the cache's signing keys too (src/cache/signing-keys.ts).
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { inspect } from 'node:util';
import { Errors } from './errors.js';

/** The groups `all` spells out. */
export const API_KEY_ROUTE_GROUPS = ['predict', 'info', 'docs', 'health', 'metrics'] as const;
/**
 * A group API_KEY_ROUTES may name: one of `all`'s, or `repository` (/v2/repository: a model's load and unload,
 * the index), which `all` needs not spell out because `predict` brings it (guardedGroups).
 */
export type ApiKeyRouteGroup = (typeof API_KEY_ROUTE_GROUPS)[number] | 'repository';

/**
 * The groups whose routes need a key: those named, and `repository` whenever `predict` is named. Whoever may not
 * run the models without a key must not unload or replace them either (an unload answers every later prediction
 * 404), so no setting guards the predictions and leaves the repository open; `repository` alone guards only it.
 */
export function guardedGroups(named: Iterable<ApiKeyRouteGroup>): ReadonlySet<ApiKeyRouteGroup> {
  const groups = new Set(named);
  if (groups.has('predict')) groups.add('repository');
  return groups;
}

// RFC 6750's b64token: what can follow `Bearer ` in an Authorization header. A key outside it could never be sent.
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** `all`, or a comma-separated list (the schema checks the names), as the list of groups. */
export function parseApiKeyRoutes(setting: string): readonly ApiKeyRouteGroup[] {
  if (setting === 'all') return API_KEY_ROUTE_GROUPS;
  return [...new Set(setting.split(','))] as ApiKeyRouteGroup[];
}

/**
 * The keys of a list (a setting's comma-separated items, or a file's lines), trimmed, blanks dropped, duplicates
 * merged, in order. `problemOf` says what is wrong with a key, if anything; INF_ERR_CONFIG then names the item by
 * its position, never by its value.
 */
export function keysFromList(
  items: readonly string[],
  source: string,
  what: string,
  problemOf: (key: string) => string | undefined,
): string[] {
  const keys = new Set<string>();
  items.forEach((item, i) => {
    const key = item.trim();
    if (key === '') return;
    const problem = problemOf(key);
    if (problem !== undefined) throw Errors.Config(`${source}: ${what} ${i + 1} ${problem}`);
    keys.add(key);
  });
  if (keys.size === 0) throw Errors.Config(`${source} holds no key`);
  return [...keys];
}

/** API_KEYS' items, or API_KEYS_FILE's lines: bearer tokens (keysFromList). */
export function apiKeysFromList(items: readonly string[], source: string, what = 'item'): string[] {
  return keysFromList(items, source, what, (key) =>
    TOKEN68.test(key) ? undefined : 'is not a bearer token (letters, digits and -._~+/, then = padding only)',
  );
}

/** Reads API_KEYS_FILE: one key a line; blank lines and lines starting with `#` are skipped. */
export function readApiKeysFile(path: string): string[] {
  return readKeyFile(path, 'API_KEYS_FILE', apiKeysFromList);
}

/**
 * A file of keys (`setting` names it in errors): its lines, with those starting with `#` blanked, go to
 * `fromList` with the source `<setting> <path>`, which trims them, skips blanks and checks each key.
 */
export function readKeyFile(
  path: string,
  setting: string,
  fromList: (lines: readonly string[], source: string, what: string) => string[],
): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw Errors.Config(`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const lines = text.split(/\r?\n/).map((line) => (line.trimStart().startsWith('#') ? '' : line));
  return fromList(lines, `${setting} ${path}`, 'line');
}

/**
 * Calls `onChange` with the file's keys whenever it changes. One stat per interval (fs.watchFile), which,
 * unlike inotify on the file, also sees the kubelet's update of a Secret volume: it swaps a symlink to a new
 * directory, and the stat of the path then shows another inode. A changed file that cannot be read or holds no
 * key goes to `onError`, and the keys in use stay: a half-written file must not lock every client out.
 */
export function watchKeyFile(
  path: string,
  intervalMs: number,
  onChange: (keys: string[]) => void,
  onError: (err: Error) => void,
  read: (path: string) => string[] = readApiKeysFile,
): () => void {
  const listener = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    try {
      onChange(read(path));
    } catch (err) {
      onError(err as Error);
    }
  };
  // Not persistent: the watch alone must not keep the process alive.
  watchFile(path, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(path, listener);
}

/** The keys, frozen, printed (JSON or inspect) as their count only: a logged config shows no key. */
export function redactedKeys(keys: string[], what = 'API key'): readonly string[] {
  const shown = `[${keys.length} ${what}${keys.length === 1 ? '' : 's'}, redacted]`;
  Object.defineProperty(keys, 'toJSON', { value: () => shown });
  Object.defineProperty(keys, inspect.custom, { value: () => shown });
  return Object.freeze(keys);
}
