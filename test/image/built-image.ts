// The Dockerfile built and run for real, without a Docker engine or a registry (`npm run test:image`; slow, so
// not in `npm test`, but .ci/run runs it):
//   1. a stand-in for the pinned node:<version>-bookworm-slim base: a debootstrap bookworm minbase rootfs
//      (cached between runs), this Node 22 binary, npm, a `node` user with uid 1000 and the host's CA bundle;
//   2. `buildah bud --pull=never --isolation chroot` with MODEL_SOURCE=context and the stand-in model;
//   3. the image config and the runtime stage's contents;
//   4. the service started from the image's root filesystem as uid 1000: healthy, a correct prediction, gRPC
//      health SERVING (its protos are in the image), exit 0 on SIGTERM.
// buildah runs with its own storage in a temporary directory, so it neither reads nor leaves images elsewhere.
// Needs root (debootstrap, chroot, mount), as CI runs; Node 22 on PATH; buildah and debootstrap from apt.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  copyFileSync,
  statSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { freePort, repoRoot, STANDIN_MODEL_DIR, waitFor } from '../helper.js';
import { BATCH_TOLERANCE, maxScoreDiff } from '../direct-model.js';
import { grpcClient, unary } from '../grpc-client.js';

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const baseImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)![1]!;
const modelDir = /MODEL_DIR=(\S+)/.exec(dockerfile)![1]!;
const nodeVersion = /^node:(\d+\.\d+\.\d+)-/.exec(baseImage)![1]!;
const cacheDir = process.env.IMAGE_TEST_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'project-image-test');
const work = mkdtempSync(join(tmpdir(), 'image-test-'));
const storage = ['--root', join(work, 'storage'), '--runroot', join(work, 'run')];
const IMAGE = 'localhost/project:image-test';
/** The host's Debian CA bundle: npm inside the build reaches the registry through whatever this machine trusts. */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';
const STANDIN_CA = '/usr/local/share/ca-certificates/host-ca-bundle.crt';

function run(command: string, args: readonly string[], options: { cwd?: string } = {}): string {
  try {
    return execFileSync(command, args, {
      cwd: options.cwd,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${(e.stdout ?? '').slice(-4000)}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}
const buildah = (...args: string[]) => run('buildah', [...storage, ...args]).trim();

/** The Debian mirror apt uses here (deb822 `URIs:` or one-line `deb` entries), which debootstrap must use too. */
function debianMirror(): string {
  const dir = '/etc/apt/sources.list.d';
  const files = ['/etc/apt/sources.list', ...(existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [])].filter((f) =>
    existsSync(f),
  );
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes('bookworm')) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line) return line[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** bookworm minbase with the image's `node` user (uid/gid 1000), as a tarball kept in the cache directory. */
function baseRootfs(): string {
  const tarball = join(cacheDir, 'bookworm-minbase-node-user.tar');
  if (existsSync(tarball)) return tarball;
  mkdirSync(cacheDir, { recursive: true });
  const rootfs = join(work, 'rootfs');
  run('debootstrap', ['--variant=minbase', 'bookworm', rootfs, debianMirror()]);
  run('chroot', [rootfs, 'groupadd', '--gid', '1000', 'node']);
  run('chroot', [rootfs, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node']);
  run('tar', ['-C', rootfs, '-cf', `${tarball}.partial`, '.']);
  renameSync(`${tarball}.partial`, tarball);
  rmSync(rootfs, { recursive: true, force: true });
  return tarball;
}

/** npm as the official image has it (the registry's npm 10 line for Node 22), cached as its package tarball. */
function npmTarball(): string {
  const existing = existsSync(cacheDir) ? readdirSync(cacheDir).find((f) => /^npm-10\.\d+\.\d+\.tgz$/.test(f)) : undefined;
  if (existing) return join(cacheDir, existing);
  mkdirSync(cacheDir, { recursive: true });
  const name = run('npm', ['pack', '--silent', '--pack-destination', cacheDir, 'npm@10'], { cwd: cacheDir }).trim().split('\n').at(-1)!;
  return join(cacheDir, name);
}

/** The stand-in for the pinned base, committed under the exact name the Dockerfile's FROM lines use. */
function buildStandinBase(): void {
  // Node, npm and the CA bundle go in as one directory tree copied over the rootfs.
  const extra = join(work, 'base-extra');
  mkdirSync(join(extra, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(extra, 'usr/local/lib/node_modules'), { recursive: true });
  mkdirSync(join(extra, 'usr/local/share/ca-certificates'), { recursive: true });
  copyFileSync(process.execPath, join(extra, 'usr/local/bin/node'));
  run('tar', ['-C', join(extra, 'usr/local/lib/node_modules'), '-xzf', npmTarball()]);
  renameSync(join(extra, 'usr/local/lib/node_modules/package'), join(extra, 'usr/local/lib/node_modules/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(extra, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(extra, 'usr/local/bin/npx'));
  copyFileSync(HOST_CA, join(extra, STANDIN_CA.slice(1)));

  const ctr = buildah('from', 'scratch');
  buildah('add', ctr, baseRootfs(), '/');
  buildah('copy', ctr, extra, '/');
  buildah(
    'config',
    '--env',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--env',
    `NODE_VERSION=${nodeVersion}`,
    '--env',
    `NODE_EXTRA_CA_CERTS=${STANDIN_CA}`,
    '--cmd',
    'node',
    ctr,
  );
  buildah('commit', '--quiet', '--rm', ctr, `docker.io/library/${baseImage}`);
}

interface ImageConfig {
  User?: string;
  Cmd?: string[];
  Entrypoint?: string[] | null;
  Env?: string[];
  WorkingDir?: string;
}

t.teardown(() => {
  try {
    run('buildah', [...storage, 'rm', '--all']);
    run('buildah', [...storage, 'rmi', '--all', '--force']);
  } catch {
    /* best effort: the directory goes anyway */
  }
  rmSync(work, { recursive: true, force: true });
});

t.test('The Dockerfile builds on a stand-in of its pinned base and the image serves predictions as uid 1000.', async (t) => {
  t.equal(
    process.version,
    `v${nodeVersion}`,
    `this test runs on the Node release the Dockerfile pins (${baseImage}), which goes into the stand-in base`,
  );
  t.equal(readFileSync(join(repoRoot, '.node-version'), 'utf8').trim(), nodeVersion, '.node-version names the same release');

  const baseStarted = performance.now();
  buildStandinBase();
  t.comment(`stand-in base ${baseImage}: ${((performance.now() - baseStarted) / 1000).toFixed(0)} s`);

  const buildStarted = performance.now();
  run(
    'buildah',
    [
      ...storage,
      'bud',
      '--pull=never',
      '--isolation',
      'chroot',
      '--build-arg',
      'MODEL_SOURCE=context',
      '--build-context',
      `model-files=${STANDIN_MODEL_DIR}`,
      '--tag',
      IMAGE,
      '--file',
      'Dockerfile',
      '.',
    ],
    { cwd: repoRoot },
  );
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  // The stand-in base is not the real one (a minbase rootfs is about as big as node:22-bookworm-slim), so the
  // base's size is reported beside the image's: the difference is what the Dockerfile adds.
  t.comment(
    `build: ${buildSeconds.toFixed(0)} s; image: ${buildah('images', '--format', '{{.Size}}', IMAGE)}, of which the stand-in base: ${buildah('images', '--format', '{{.Size}}', `docker.io/library/${baseImage}`)}`,
  );

  const inspected = JSON.parse(buildah('inspect', '--type', 'image', IMAGE)) as { OCIv1: { config: ImageConfig } };
  const config = inspected.OCIv1.config;
  const env = new Map((config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const));
  t.equal(config.User, '1000:1000', 'runs as uid 1000');
  t.same(config.Cmd, ['node', 'dist/src/main.js'], 'exec-form CMD');
  t.notOk(config.Entrypoint?.length, 'no entrypoint wraps it');
  t.equal(env.get('NODE_ENV'), 'production', 'NODE_ENV=production');
  t.equal(env.get('MODEL_DIR'), modelDir, `MODEL_DIR=${modelDir}`);
  t.equal(config.WorkingDir, '/app', 'WORKDIR /app');

  const ctr = buildah('from', '--pull-never', IMAGE);
  const root = buildah('mount', ctr);
  try {
    const app = join(root, 'app');
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies))
      t.ok(existsSync(join(app, 'node_modules', dep, 'package.json')), `dependency ${dep} is installed`);
    t.same(
      Object.keys(pkg.devDependencies).filter((dep) => existsSync(join(app, 'node_modules', dep))),
      [],
      'no dev dependency is installed',
    );
    const binaries = findFiles(join(app, 'node_modules'), (f) => f.endsWith('.node'));
    t.ok(binaries.length >= 3, `native binaries present (${binaries.length})`);
    const foreign = binaries.filter((f) => !/(linux\/x64\/|linux-x64-gnu\.node$|_linux_x64_127\.node$)/.test(f));
    t.same(foreign, [], `only linux x64 binaries, uWS only for Node 22's ABI 127 (kept: ${binaries.join(', ')})`);
    for (const cache of ['root/.npm', 'home/node/.npm', 'app/.npm', 'tmp/.npm'])
      t.notOk(existsSync(join(root, cache)), `no npm cache at /${cache}`);
    t.ok(existsSync(join(root, modelDir.slice(1), 'onnx/model_quantized.onnx')), 'the model is at MODEL_DIR');
    const moduleBytes = Number(run('du', ['-sb', join(app, 'node_modules')]).split('\t')[0]);
    t.comment(`runtime node_modules: ${(moduleBytes / 2 ** 20).toFixed(0)} MiB`);

    // As a container runtime would: the service reads the CPU count and cgroup limits under /proc.
    run('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
    const port = await freePort();
    // A free port for gRPC too: the default 8001 may be taken on the host, whose network the chroot shares.
    const grpcPort = await freePort();
    const childEnv = [...env, ['PORT', String(port)], ['GRPC_PORT', String(grpcPort)], ['HOST', '127.0.0.1'], ['WORKERS', '1']].map(
      ([name, value]) => `${name}=${value}`,
    );
    // Exactly the image's environment: `env -i` also drops the NODE_OPTIONS tap adds to every child process.
    // chroot starts in /; `cd` then exec keeps node itself as the process that gets SIGTERM, as PID 1 would.
    const child = spawn(
      'env',
      [
        '-i',
        ...childEnv,
        'chroot',
        '--userspec=1000:1000',
        root,
        '/bin/sh',
        '-c',
        `cd ${config.WorkingDir} && exec ${config.Cmd!.join(' ')}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const exited = once(child, 'exit');
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${url}/project/health`).catch(() => undefined))?.status === 200,
        120_000,
        "the image's service to be healthy",
      );
      const texts = ['I love you!', 'I hate you!'];
      const response = await fetch(`${url}/project/bulk-predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: texts }),
      });
      t.equal(response.status, 200);
      const { predictions } = (await response.json()) as { predictions: { label: string; score: number }[][] };
      t.same(
        predictions.map((p) => p.map(({ label }) => label).sort()),
        texts.map(() => ['NEGATIVE', 'POSITIVE']),
        'both labels for each text',
      );
      // In one batch the int8 stand-in's scores move by up to its documented batch tolerance.
      for (const [i, text] of texts.entries()) {
        const diff = await maxScoreDiff(text, predictions[i]!);
        t.ok(diff <= BATCH_TOLERANCE, `${text}: within ${BATCH_TOLERANCE} of the model run directly in this process (${diff.toFixed(4)})`);
      }
      // The gRPC server started, so it found its protos in the image; the client is built from the image's own copy.
      const health = grpcClient(join(app, 'schemas', 'grpc', 'health.proto'), 'grpc.health.v1.Health', grpcPort);
      t.same((await unary(health, 'Check', { service: '' })).value, { status: 'SERVING' }, 'gRPC health is SERVING on GRPC_PORT');
      health.close();
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      t.equal(code, 0, 'exit 0 on SIGTERM');
      t.equal(signal, null);
      const uid = statSync(join(app, 'dist/src/main.js')).uid;
      t.equal(uid, 0, 'the code stays owned by root, read-only to uid 1000');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (t.passing() === false) t.comment(output.slice(-4000));
    }
  } finally {
    spawnSync('umount', [join(root, 'proc')]);
    buildah('umount', ctr);
  }
});

function findFiles(dir: string, match: (relative: string) => boolean, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = `${prefix}${entry.name}`;
    if (entry.isDirectory()) return findFiles(join(dir, entry.name), match, `${relative}/`);
    return match(relative) ? [relative] : [];
  });
}
