// Where the package and the model live on disk: the one definition that the service, `npm run model:fetch`,
// the tests and the benches share.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding package.json: the repo root whether this runs as model/paths.ts or dist/model/paths.js. */
export const packageRoot = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`package.json not found above ${here}`);
  }
})();

/** The pin of the model on the hub (repo, revision, sizes and sha256 of its files). */
export const defaultManifestPath = join(packageRoot, 'model', 'manifest.json');

/** Where `npm run model:fetch` puts the model, and where the service looks (and fetches it) when MODEL_DIR is unset. */
export const defaultModelDir = join(packageRoot, 'model', 'distilbert-base-uncased-finetuned-sst-2-english');
