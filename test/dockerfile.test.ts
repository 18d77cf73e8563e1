// The image recipe: Dockerfile rules (parsed with dockerfile-ast), the .dockerignore, and the binary prune step.
// No Docker engine here, so this checks the recipe, not a built image.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { DockerfileParser, Keyword, type Copy, type Env, type From, type Instruction, type JSONInstruction } from 'dockerfile-ast';
import { repoRoot } from './helper.js';

const dockerfile = DockerfileParser.parse(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');

/** Default values of the ARGs declared before the first FROM (the only ones FROM lines can use). */
const globalArgs = new Map(dockerfile.getInitialARGs().map((a) => [a.getProperty()!.getName(), a.getProperty()!.getValue() ?? '']));
const expand = (text: string, args: Map<string, string> = globalArgs) =>
  text.replace(
    /\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)/g,
    (_, braced: string, fallback: string | undefined, bare: string) => args.get(braced ?? bare) ?? fallback ?? '',
  );

interface Stage {
  name: string | null;
  from: From;
  base: string;
  instructions: Instruction[];
}
const stages: Stage[] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const from = instruction as From;
    stages.push({ name: from.getBuildStage(), from, base: expand(from.getImage() ?? ''), instructions: [] });
  } else {
    stages.at(-1)?.instructions.push(instruction);
  }
}
const stageNames = new Set(stages.map((s) => s.name).filter((n): n is string => n !== null));
const finalStage = stages.at(-1)!;
const ofStage = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.getKeyword() === keyword);
const runText = (i: Instruction) => i.getArgumentsContent() ?? '';
const copyFrom = (i: Instruction) => (i as Copy).getFromFlag()?.getValue() ?? null;
const copyArgs = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** Follows FROM <stage> links back to the stage an image starts from. */
const stageByName = (name: string) => stages.find((s) => s.name === name);

t.test('The Dockerfile parses into known instructions only.', async (t) => {
  const known = new Set<string>(Object.values(Keyword));
  for (const instruction of dockerfile.getInstructions())
    t.ok(known.has(instruction.getKeyword()), `${instruction.getKeyword()} on line ${instruction.getRange().start.line + 1}`);
  t.ok(stages.length >= 3, 'has several stages');
});

t.test('Every base image is pinned to a glibc (Debian bookworm or newer) tag, never latest.', async (t) => {
  const external = stages.filter((s) => !stageNames.has(s.base) && !/^model-/.test(s.from.getImage() ?? ''));
  t.ok(external.length >= 2, 'at least a build and a runtime base');
  for (const stage of external) {
    const image = stage.base;
    const [, tag] = /^[^@]*?(?::([^:/@]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(image) ?? [];
    t.ok(tag !== undefined || image.includes('@sha256:'), `${stage.name}: ${image} has a tag or digest`);
    t.not(tag, 'latest', `${stage.name}: ${image} is not latest`);
    t.match(
      image,
      /^node:\d+\.\d+\.\d+-(bookworm|trixie)(-slim)?(@sha256:[0-9a-f]{64})?$/,
      `${stage.name}: an exact Node release on glibc >= 2.36`,
    );
  }
});

t.test('The build stage installs dev dependencies and builds; the runtime gets production dependencies only.', async (t) => {
  const npmCi = stages.flatMap((s) =>
    ofStage(s, 'RUN')
      .filter((r) => /\bnpm ci\b/.test(runText(r)))
      .map((r) => ({ stage: s, text: runText(r) })),
  );
  t.ok(
    npmCi.some(({ text }) => !/--omit=dev/.test(text)),
    'one npm ci with dev dependencies (TypeScript)',
  );
  t.ok(
    stages.some((s) => ofStage(s, 'RUN').some((r) => /\bnpm run build\b/.test(runText(r)))),
    'npm run build runs in a stage',
  );
  t.same(ofStage(finalStage, 'RUN'), [], 'the runtime stage runs nothing: it only copies finished files');
  const modules = ofStage(finalStage, 'COPY').find((c) => copyArgs(c).at(-1)!.replace(/\/$/, '').endsWith('node_modules'));
  const source = modules && stageByName(copyFrom(modules) ?? '');
  t.ok(source, 'node_modules is copied from another stage');
  t.ok(
    source && ofStage(source, 'RUN').some((r) => /\bnpm ci\b[^&]*--omit=dev/.test(runText(r))),
    `the node_modules stage (${source?.name}) runs npm ci --omit=dev`,
  );
  t.ok(
    ofStage(finalStage, 'COPY').some((c) => copyFrom(c) !== null && copyArgs(c)[0] === '/app/dist'),
    'dist/ comes from the build stage',
  );
});

t.test('The runtime stage is non-root, production, exposes 8000 and 8001 and starts node in exec form.', async (t) => {
  t.equal(finalStage.name, 'runtime', 'the last stage is the runtime (the default build target)');
  const user = ofStage(finalStage, 'USER').at(-1);
  t.ok(user, 'sets USER');
  const [uid] = (user?.getArguments()[0]?.getValue() ?? 'root').split(':');
  t.notOk(['root', '0'].includes(uid!), `USER ${uid} is not root`);
  t.match(uid, /^\d+$/, 'numeric uid, so Kubernetes runAsNonRoot can verify it');
  const env = new Map(
    ofStage(finalStage, 'ENV').flatMap((e) => (e as Env).getProperties().map((p) => [p.getName(), p.getValue()] as const)),
  );
  t.equal(env.get('NODE_ENV'), 'production');
  t.ok(
    ofStage(finalStage, 'EXPOSE').some((e) => e.getArguments().some((a) => a.getValue().split('/')[0] === '8000')),
    'EXPOSE 8000',
  );
  t.ok(
    ofStage(finalStage, 'EXPOSE').some((e) => e.getArguments().some((a) => a.getValue().split('/')[0] === '8001')),
    'EXPOSE 8001 (GRPC_PORT)',
  );
  const cmds = ofStage(finalStage, 'CMD') as JSONInstruction[];
  t.equal(cmds.length, 1, 'one CMD');
  t.same(
    cmds[0]!.getJSONStrings().map((s) => s.getJSONValue()),
    ['node', 'dist/src/main.js'],
    'exec form: node is PID 1 and gets SIGTERM',
  );
  t.same(ofStage(finalStage, 'ENTRYPOINT'), [], 'no ENTRYPOINT wrapping it in a shell');
});

t.test("The runtime carries the .proto files the gRPC server loads at run time, at the package root's schemas/grpc.", async (t) => {
  const protos = readdirSync(join(repoRoot, 'schemas', 'grpc')).filter((f) => f.endsWith('.proto'));
  t.ok(protos.length > 0, `the repository has them (${protos.join(', ')})`);
  for (const proto of protos) t.notOk(dockerIgnored(`schemas/grpc/${proto}`), `schemas/grpc/${proto} is in the build context`);
  const workdir = ofStage(finalStage, 'WORKDIR').at(-1)?.getArguments()[0]?.getValue() ?? '/';
  const packageJson = ofStage(finalStage, 'COPY').find((c) => copyFrom(c) === null && copyArgs(c).includes('package.json'));
  t.ok(packageJson && posix.resolve(workdir, copyArgs(packageJson).at(-1)!) === workdir, 'package.json (the package root) is in WORKDIR');
  const copy = ofStage(finalStage, 'COPY').find((c) => copyArgs(c)[0]?.replace(/\/$/, '').endsWith('schemas/grpc'));
  t.ok(copy, 'the runtime copies schemas/grpc');
  if (copy) {
    t.equal(copyFrom(copy), 'build', 'from the build stage, which has the whole context');
    t.equal(posix.resolve(workdir, copyArgs(copy).at(-1)!), posix.join(workdir, 'schemas', 'grpc'), 'to <package root>/schemas/grpc');
  }
});

t.test('The model is fetched or copied in a build stage, and the runtime copies it to MODEL_DIR.', async (t) => {
  const source = globalArgs.get('MODEL_SOURCE');
  t.equal(source, 'fetch', 'fetching is the default');
  for (const value of ['fetch', 'context'])
    t.ok(stageNames.has(`model-${value}`), `MODEL_SOURCE=${value} selects the stage model-${value}`);
  const modelStage = stages.find((s) => s.name === 'model');
  t.equal(modelStage?.from.getImage(), 'model-${MODEL_SOURCE}', 'the model stage is chosen by MODEL_SOURCE');
  t.ok(
    ofStage(stageByName('model-fetch')!, 'RUN').some((r) => /\bnpm run model:fetch\b/.test(runText(r))),
    'model-fetch runs npm run model:fetch',
  );
  t.ok(
    ofStage(stageByName('model-context')!, 'COPY').some((c) => copyFrom(c) !== null && !stageNames.has(copyFrom(c)!)),
    'model-context copies from a named build context',
  );

  const env = new Map(
    ofStage(finalStage, 'ENV').flatMap((e) => (e as Env).getProperties().map((p) => [p.getName(), p.getValue()] as const)),
  );
  const modelDir = env.get('MODEL_DIR');
  t.ok(modelDir?.startsWith('/'), 'MODEL_DIR is an absolute path');
  const workdir = ofStage(finalStage, 'WORKDIR').at(-1)?.getArguments()[0]?.getValue() ?? '/';
  const modelCopy = ofStage(finalStage, 'COPY').find((c) => copyFrom(c) === 'model');
  t.ok(modelCopy, 'the runtime copies from the model stage');
  if (modelCopy) t.equal(posix.resolve(workdir, copyArgs(modelCopy).at(-1)!), modelDir, 'to exactly MODEL_DIR');
  t.notOk(
    ofStage(finalStage, 'RUN').some((r) => /model:fetch/.test(runText(r))),
    'nothing is downloaded at runtime',
  );
});

// Docker's .dockerignore semantics (moby/patternmatcher): patterns are path-cleaned (a trailing / is dropped),
// `*` and `?` stay within one path segment, `**` spans segments, a match on a parent directory excludes its
// contents, `!` re-includes, and the last matching pattern wins.
function dockerIgnored(path: string): boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const exclusion = line.startsWith('!');
      let pattern = posix.normalize(exclusion ? line.slice(1).trim() : line).replace(/\/+$/, '');
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
      let regex = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            regex += '(?:.*/)?';
          } else regex += '.*';
        } else if (c === '*') regex += '[^/]*';
        else if (c === '?') regex += '[^/]';
        else regex += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { exclusion, regex: new RegExp(`^${regex}$`) };
    });
  const segments = path.split('/');
  let matched = false;
  for (const { exclusion, regex } of patterns) {
    if (exclusion !== matched) continue;
    let match = regex.test(path);
    for (let i = 1; !match && i < segments.length; i++) match = regex.test(segments.slice(0, i).join('/'));
    if (match) matched = !exclusion;
  }
  return matched;
}

t.test('.dockerignore keeps dependencies, build output, VCS data, model weights and bench results out of the context.', async (t) => {
  for (const path of [
    'node_modules/onnxruntime-node/package.json',
    '.git/HEAD',
    'dist/src/main.js',
    'model/distilbert-base-uncased-finetuned-sst-2-english/onnx/model_quantized.onnx',
    'model/distilbert-base-uncased-finetuned-sst-2-english/config.json',
    'bench/results/latest.json',
  ])
    t.ok(dockerIgnored(path), `${path} is excluded`);
  for (const path of [
    'package.json',
    'package-lock.json',
    '.npmrc',
    'tsconfig.json',
    'src/main.ts',
    'workers/onnx-worker.ts',
    'schemas/build.mjs',
    'schemas/config.json',
    'model/fetch.ts',
    'model/manifest.json',
    'bench/run.ts',
  ])
    t.notOk(dockerIgnored(path), `${path} stays in the context`);
});

t.test('Every file `npm run build` compiles (tsconfig.json) survives .dockerignore: the build stage has them all.', async (t) => {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(repoRoot, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} },
  );
  // The files the compiler reads: those tsconfig.json names and every file they import (a bench importing a test
  // helper that the context lacks broke the image build once). src/generated/ is not copied: the build stage
  // makes it (build:schemas) before it compiles.
  const program = ts.createProgram(config!.fileNames, config!.options);
  const files = program
    .getSourceFiles()
    .map((source) => relative(repoRoot, source.fileName))
    .filter((file) => !file.startsWith('..') && !file.startsWith('node_modules/') && !file.startsWith('src/generated/'));
  t.ok(files.includes('test/harness.ts'), "the tests' harness is built (the benches import it)");
  t.same(
    files.filter((file) => dockerIgnored(file)),
    [],
    'none is ignored',
  );
});

t.test('Every file the Dockerfile copies from the main context survives .dockerignore.', async (t) => {
  const contextCopies = stages.flatMap((s) =>
    ofStage(s, 'COPY')
      .filter((c) => copyFrom(c) === null)
      .flatMap((c) => copyArgs(c).slice(0, -1)),
  );
  t.ok(contextCopies.includes('.npmrc'), '.npmrc is copied (onnxruntime-node-install=skip)');
  for (const source of contextCopies.filter((s) => s !== '.')) t.notOk(dockerIgnored(source), `${source} is in the context`);
});

t.test('The prune step keeps exactly the linux binaries of the target architecture.', async (t) => {
  const run = ofStage(stageByName('prod-deps')!, 'RUN')
    .map(runText)
    .find((text) => text.includes('find node_modules'));
  t.ok(run, 'prod-deps has a prune step');
  // Only the arch switch and the find commands: npm ci and the import check need the real packages.
  const script = run!
    .split('&&')
    .map((s) => s.trim())
    .filter((s) => /^(case|find) /.test(s))
    .join(' && ');
  const packageDir = (name: string) => join(repoRoot, 'node_modules', name);
  const fixtureFiles = [
    ...['onnxruntime-node', 'tokenizers', 'uWebSockets.js'].flatMap((name) =>
      listFiles(packageDir(name))
        .filter((f) => f.endsWith('.node'))
        .map((f) => `node_modules/${name}/${f}`),
    ),
  ];
  t.ok(fixtureFiles.length > 20, 'the installed packages provide the real binary names');
  for (const [targetArch, arch] of [
    ['amd64', 'x64'],
    ['arm64', 'arm64'],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'dockerfile-prune-'));
    try {
      for (const file of fixtureFiles) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), '');
      }
      const result = spawnSync('sh', ['-c', script], {
        cwd: dir,
        env: { PATH: process.env.PATH, TARGETARCH: targetArch },
        encoding: 'utf8',
      });
      t.equal(result.status, 0, `${targetArch}: the prune commands succeed ${result.stderr}`);
      const kept = fixtureFiles.filter((f) => existsSync(join(dir, f)));
      t.ok(kept.length > 0, `${targetArch}: something is kept`);
      t.same(
        kept.filter(
          (f) => !new RegExp(`(linux/${arch}/|linux-${arch}-gnu\\.node$|_linux_${arch}_${process.versions.modules}\\.node$)`).test(f),
        ),
        [],
        `${targetArch}: only linux/${arch} binaries are kept, uWS only for this Node's ABI`,
      );
      t.ok(
        kept.includes(`node_modules/onnxruntime-node/bin/napi-v6/linux/${arch}/onnxruntime_binding.node`),
        `${targetArch}: the ONNX Runtime binding is kept`,
      );
      t.ok(
        kept.includes(`node_modules/tokenizers/tokenizers.linux-${arch}-gnu.node`),
        `${targetArch}: the glibc tokenizers binding is kept`,
      );
      t.ok(
        kept.includes(`node_modules/uWebSockets.js/dist/bin/uws_linux_${arch}_${process.versions.modules}.node`),
        `${targetArch}: uWS for this Node ABI is kept`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  t.match(
    run!,
    /node --input-type=module -e .*import\('uWebSockets.js'\).*import\('onnxruntime-node'\).*import\('tokenizers'\)/,
    'the pruned binaries are loaded once at build time',
  );
});

t.test('prod-deps removes the type declarations production packages pull in (protobufjs: @types/node).', async (t) => {
  const runs = ofStage(stageByName('prod-deps')!, 'RUN').map(runText);
  t.ok(
    runs.some((text) => /&& rm -rf node_modules\/@types\b/.test(text)),
    'rm -rf node_modules/@types: the runtime carries no dev dependency',
  );
});

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

t.test(
  'Node 22 LTS everywhere: the base image, .node-version/.nvmrc, engines, @types/node, and the Node running these tests.',
  async (t) => {
    const image = globalArgs.get('NODE_IMAGE') ?? '';
    const [, version] = /^node:(\d+\.\d+\.\d+)-bookworm-slim$/.exec(image) ?? [];
    t.ok(version, `NODE_IMAGE ${image} is an exact node:<version>-bookworm-slim`);
    t.match(version, /^22\./, 'Node 22 LTS: uws-pack 20.0.x ships its binary for ABI 127 (Node 22)');
    for (const file of ['.node-version', '.nvmrc'])
      t.equal(readFileSync(join(repoRoot, file), 'utf8').trim(), version, `${file} names the same release (.ci/run installs it)`);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    t.equal(pkg.engines.node, '>=22 <23', 'engines: Node 22 only (Node 24 is ABI 137, for which uws-pack 20.0.x has no binary)');
    t.match(pkg.devDependencies['@types/node'], /^\^22\./, '@types/node 22');
    t.equal(process.versions.modules, '127', `these tests run on Node 22 (ABI 127), here ${process.version}`);

    t.equal(globalArgs.get('NODE_DIGEST'), '', 'NODE_DIGEST is empty by default (the tag alone)');
    const external = stages.filter((s) => !stageNames.has(s.base) && !/^model-/.test(s.from.getImage() ?? ''));
    for (const stage of external)
      t.equal(stage.from.getImage(), '${NODE_IMAGE}${NODE_DIGEST}', `${stage.name} starts from the pinned base and its digest`);
    const digest = `@sha256:${'ab'.repeat(32)}`;
    const pinned = expand(external[0]!.from.getImage()!, new Map([...globalArgs, ['NODE_DIGEST', digest]]));
    t.equal(pinned, `${image}${digest}`, '--build-arg NODE_DIGEST=@sha256:<digest> pins the base by digest');
    t.match(pinned, /^node:\d+\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/, 'a reference a registry resolves');
  },
);
