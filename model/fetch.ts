// `npm run model:fetch`: downloads the pinned model (manifest-fetch.ts), or with --repo any repository with an ONNX
// export (repo-fetch.ts), or with --list every model of a list into a repository directory (list-fetch.ts), from
// the Hugging Face hub.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FetchErrors, ModelFetchError } from './errors.js';
import { fetchList } from './list-fetch.js';
import { loadManifest } from './manifest.js';
import { loadModelList } from './model-list.js';
import { fetchModel } from './manifest-fetch.js';
import { defaultManifestPath } from './paths.js';
import { createProgressReporter } from './progress.js';
import { fetchRepo } from './repo-fetch.js';

const USAGE = `usage: npm run model:fetch -- [--variant quantized|fp32] [--revision REV] [--dest DIR] [--manifest FILE]
       npm run model:fetch -- --repo OWNER/NAME [--revision COMMIT] [--file onnx/model_quantized.onnx] [--dest DIR]
       npm run model:fetch -- --list models.json --dest DIR
  The first form fetches the pinned model (model/manifest.json). The second fetches any repository with an ONNX
  export into model/OWNER--NAME/ (or DIR) and writes model.lock.json there on the first fetch; later fetches
  and the service's start refuse files that differ from it. The third fetches each model of the list as the
  second would, into DIR/<name>/ (a MODEL_REPOSITORY), checking the list's sha256 pins.
  env HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated repos)`;

const OPTIONS = {
  variant: { type: 'string' },
  dest: { type: 'string' },
  manifest: { type: 'string' },
  help: { type: 'boolean' },
  repo: { type: 'string' },
  revision: { type: 'string' },
  file: { type: 'string' },
  list: { type: 'string' },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS }).values;
  } catch (err) {
    throw FetchErrors.Usage(`${(err as Error).message}\n${USAGE}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const values = parseFlags(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const onProgress = createProgressReporter(process.stderr);
  if (values.list !== undefined) return fetchListCommand(values, onProgress);
  const manifest = values.manifest === undefined ? await loadManifest(defaultManifestPath) : await loadManifest(resolve(values.manifest));
  if (values.repo !== undefined && values.repo !== manifest.repo) {
    if (values.variant !== undefined || values.manifest !== undefined)
      throw FetchErrors.Usage(`--repo takes no --variant or --manifest\n${USAGE}`);
    const result = await fetchRepo({ repo: values.repo, revision: values.revision, file: values.file, destDir: values.dest, onProgress });
    const lockNote = result.locked ? 'model.lock.json written (first fetch)' : 'verified against model.lock.json';
    process.stderr.write(`${result.lock.repo}@${result.lock.revision} ready in ${result.destDir}: ${lockNote}\n`);
    return;
  }
  if (values.file !== undefined) throw FetchErrors.Usage(`--file goes with --repo; the pinned model's files are its variants\n${USAGE}`);
  const result = await fetchModel({ variant: values.variant, revision: values.revision, destDir: values.dest, manifest, onProgress });
  process.stderr.write(
    `model (${result.variant}) ready in ${result.destDir}: ${result.downloaded.length} downloaded, ${result.present.length} already present\n`,
  );
}

async function fetchListCommand(values: ReturnType<typeof parseFlags>, onProgress: ReturnType<typeof createProgressReporter>) {
  const others = (['variant', 'manifest', 'repo', 'revision', 'file'] as const).filter((flag) => values[flag] !== undefined);
  if (others.length > 0)
    throw FetchErrors.Usage(
      `--list takes no --${others.join(', --')}: the list names each model's repository, revision and file\n${USAGE}`,
    );
  if (values.dest === undefined) throw FetchErrors.Usage(`--list needs --dest, the repository directory\n${USAGE}`);
  const models = await loadModelList(resolve(values.list!));
  const results = await fetchList({
    models,
    destDir: values.dest,
    onProgress,
    onModel: (entry, dir) => process.stderr.write(`${entry.name}: ${entry.repo}@${entry.revision} into ${dir}\n`),
  });
  for (const { name, downloaded } of results) process.stderr.write(`${name}: ready, ${downloaded.length} files downloaded\n`);
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    // Our errors carry a complete message; anything else is a bug, so keep its stack.
    const text = err instanceof ModelFetchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    // On a TTY a progress bar may still occupy the current line.
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}model:fetch failed: ${text}\n`);
    process.exitCode = 1;
  });
}
