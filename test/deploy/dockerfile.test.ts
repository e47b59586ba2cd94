/**
 * The container image without docker: the Dockerfile's runtime stage must copy every path gpumon reads at run
 * time, found in the code (src/paths.ts's `projectPath` calls, what bin/gpumon.js checks, what the page's
 * bundle reads), and bin/gpumon.js must run from a copy of exactly what the Dockerfile copies. The test replays
 * the Dockerfile's stages into temporary folders (COPY honouring .dockerignore; `npm ci` replaced by a link to
 * this checkout's node_modules) and runs gpumon there.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { ROOT } from './support.ts';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  image: string;
  name: string;
  steps: Instruction[];
}

/** The Dockerfile's stages, line continuations joined, comments left out, ARG defaults substituted. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) throw new Error(`Dockerfile: cannot read ${line}`);
    const op = m[1].toUpperCase();
    const rest = m[2].replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? '');
    if (op === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=');
      if (name) args.set(name, value ?? '');
    } else if (op === 'FROM') {
      const [image = '', , name] = rest.split(/\s+/);
      stages.push({ image, name: name ?? String(stages.length), steps: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
      stage.steps.push({ op, args: rest });
    }
  }
  return stages;
}

/** A COPY instruction: --from, sources, destination (exec form not used). */
function parseCopy(args: string): { from: string | null; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  let from: string | null = null;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() as string;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = words.pop();
  if (!dest || words.length === 0) throw new Error(`COPY ${args}: no source or destination`);
  return { from, sources: words, dest };
}

/** .dockerignore as a predicate on '/'-separated context paths (patterns as Docker's: *, **, ?, !). */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negate, re: new RegExp(`^${source}(?:/.*)?$`) };
    });
  return (path) => {
    let ignored = false;
    for (const rule of rules) if (rule.re.test(path)) ignored = !rule.negate;
    return ignored;
  };
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const runtime = dockerfile.at(-1) as Stage;
const WORKDIR = '/app';

/** Where the runtime stage's COPY instructions put things, relative to WORKDIR ('dir/' for a folder). */
function runtimeDestinations(): string[] {
  return runtime.steps
    .filter((s) => s.op === 'COPY')
    .flatMap((s) => {
      const { sources, dest } = parseCopy(s.args);
      return sources.map((src) => {
        const target = dest.endsWith('/') ? `${dest}${src.endsWith('/') ? '' : basename(src)}` : dest;
        return relative(WORKDIR, join(WORKDIR, target)) + (src.endsWith('/') ? '/' : '');
      });
    });
}

function covered(path: string, destinations: string[]): boolean {
  return destinations.some((d) => (d.endsWith('/') ? `${path}/`.startsWith(d) : path === d));
}

/** Every file under `dir`, relative to it, '/'-separated. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

/** The paths gpumon reads at run time, from the code that reads them. */
function runtimePaths(): { path: string; why: string; partly?: boolean }[] {
  const found: { path: string; why: string; partly?: boolean }[] = [];
  // 1. projectPath('a', 'b') anywhere in the shipped sources (src/paths.ts: "files gpumon reads at run time")
  for (const file of filesUnder(join(ROOT, 'src'))) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts') || ignored(`src/${file}`) || file === 'paths.ts')
      continue;
    const text = readFileSync(join(ROOT, 'src', file), 'utf8');
    const calls = text.match(/\bprojectPath\(/g)?.length ?? 0;
    const literal = [...text.matchAll(/\bprojectPath\(((?:\s*'[^']*'\s*,?)+)\)/g)];
    assert.equal(literal.length, calls, `src/${file}: a projectPath call with a computed path`);
    for (const m of literal) {
      const parts = [...(m[1] as string).matchAll(/'([^']*)'/g)].map((p) => p[1]);
      found.push({ path: parts.join('/'), why: `projectPath in src/${file}` });
    }
  }
  // 2. bin/gpumon.js: the bundle, and the files it compares the bundle's age with
  const bin = readFileSync(join(ROOT, 'bin', 'gpumon.js'), 'utf8');
  found.push({ path: 'bin/gpumon.js', why: 'the ENTRYPOINT' });
  for (const m of bin.matchAll(/join\(root, ((?:'[^']*'(?:, )?)+)\)/g)) {
    const parts = [...(m[1] as string).matchAll(/'([^']*)'/g)].map((p) => p[1]);
    // a folder bin/gpumon.js walks (src/, for the newest mtime) need only exist; files must be copied
    const path = parts.join('/');
    const folder = existsSync(join(ROOT, path)) && statSync(join(ROOT, path)).isDirectory();
    found.push({ path, why: 'read by bin/gpumon.js', partly: folder });
  }
  const inputs = /const inputs = \[([^\]]*)\]/.exec(bin)?.[1] ?? '';
  for (const m of inputs.matchAll(/'([^']*)'/g)) {
    found.push({ path: m[1] as string, why: 'bin/gpumon.js compares the bundle with it' });
  }
  return found;
}

/** The files of this checkout that the page's bundle reads (esbuild at run time, src/server/web-assets.ts). */
async function pageInputs(): Promise<string[]> {
  const result = await build({
    entryPoints: [join(ROOT, 'web', 'app.ts')],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'browser',
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  return Object.keys(result.metafile.inputs).filter((p) => !p.includes('node_modules/'));
}

/** Replays the Dockerfile into folders under `into`; returns the runtime stage's folder. */
function replay(into: string): string {
  const dirs = new Map<string, string>();
  for (const [i, stage] of dockerfile.entries()) {
    const dir = join(into, `stage-${i}-${stage.name}`);
    mkdirSync(dir, { recursive: true });
    dirs.set(stage.name, dir);
    let workdir = dir;
    for (const step of stage.steps) {
      if (step.op === 'WORKDIR') {
        assert.equal(step.args, WORKDIR, 'the test assumes WORKDIR /app');
        workdir = dir;
      } else if (step.op === 'COPY') copy(parseCopy(step.args), workdir, dirs);
      else if (step.op === 'RUN') run(step.args, workdir);
    }
  }
  return dirs.get(runtime.name) as string;
}

function copy(
  { from, sources, dest }: ReturnType<typeof parseCopy>,
  workdir: string,
  dirs: Map<string, string>,
): void {
  for (const src of sources) {
    const origin = from === null ? join(ROOT, src) : join(dirs.get(from) ?? '', relative(WORKDIR, src));
    const target = join(workdir, dest.endsWith('/') && !src.endsWith('/') ? join(dest, basename(src)) : dest);
    if (from === null) assert.ok(!ignored(src.replace(/\/+$/, '')), `COPY ${src}: excluded by .dockerignore`);
    mkdirSync(dirname(target), { recursive: true });
    if (basename(origin) === 'node_modules') {
      symlinkSync(join(ROOT, 'node_modules'), target.replace(/\/+$/, ''));
      continue;
    }
    assert.ok(existsSync(origin), `COPY ${src}: ${origin} does not exist`);
    const base = from === null ? ROOT : (dirs.get(from) as string);
    cpSync(origin, target, {
      recursive: true,
      preserveTimestamps: true, // as docker's COPY keeps modification times
      filter: (path) => from !== null || !ignored(relative(base, path)),
    });
  }
}

function run(command: string, workdir: string): void {
  for (const part of command.split('&&').map((p) => p.trim())) {
    if (/^npm ci\b/.test(part)) {
      // the checkout's node_modules stands in for `npm ci` (dev dependencies included)
      if (!existsSync(join(workdir, 'node_modules')))
        symlinkSync(join(ROOT, 'node_modules'), join(workdir, 'node_modules'));
    } else if (/^(npm cache clean|chown)\b/.test(part)) {
      // no npm cache, and no `node` user, here
    } else {
      const done = spawnSync('sh', ['-c', part], { cwd: workdir, encoding: 'utf8' });
      assert.equal(done.status, 0, `RUN ${part}: ${done.stderr}`);
    }
  }
}

describe('the Dockerfile', () => {
  it('builds on a current Node LTS image, in stages, and runs gpumon as a non-root user', () => {
    const [, major] = /^node:(\d+)-/.exec(runtime.image) ?? [];
    assert.ok(Number(major) >= 22 && Number(major) % 2 === 0, `${runtime.image} is not a Node LTS`);
    assert.ok(dockerfile.length >= 2, 'one stage only');
    assert.ok(
      dockerfile.every((s) => s.image === runtime.image),
      'stages on different Node images',
    );
    const steps = (op: string) => runtime.steps.filter((s) => s.op === op).map((s) => s.args);
    assert.deepEqual(steps('ENTRYPOINT'), ['["node", "bin/gpumon.js"]']);
    const [user] = steps('USER');
    assert.ok(user && user !== 'root' && user !== '0', `USER ${user}`);
    // by number (the official images' `node`, 1000): Kubernetes verifies runAsNonRoot only for a numeric user
    assert.match(user, /^[1-9]\d*(:\d+)?$/, `USER ${user} is not numeric`);
    const buildStage = dockerfile.find((s) => s.steps.some((x) => x.args.includes('scripts/build.mjs')));
    assert.ok(buildStage?.steps.some((s) => s.op === 'RUN' && /npm ci(?!.*--omit=dev)/.test(s.args)));
    assert.ok(runtime.steps.every((s) => s.op !== 'RUN' || !/npm (ci|install)\b/.test(s.args)));
  });

  it('takes the base of every stage from the build argument NODE_IMAGE (the cluster tests build on their own)', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const froms = text.split('\n').filter((l) => /^FROM\s/i.test(l));
    assert.equal(froms.length, dockerfile.length);
    for (const from of froms) assert.match(from, /^FROM \$\{NODE_IMAGE\}(\s|$)/, from);
  });

  it('copies into the runtime stage every path gpumon reads at run time', async () => {
    const destinations = runtimeDestinations();
    const paths = runtimePaths();
    for (const p of ['web', 'package.json', 'src/analytics/queries', 'dist/main.js']) {
      assert.ok(
        paths.some((x) => x.path === p),
        `${p} not found in the code: ${paths.map((x) => x.path)}`,
      );
    }
    for (const input of await pageInputs()) paths.push({ path: input, why: 'bundled into the page' });
    for (const { path, why, partly } of paths) {
      const ok =
        covered(path, destinations) || (partly && destinations.some((d) => d.startsWith(`${path}/`)));
      assert.ok(ok, `${path} (${why}) is not copied; copied: ${destinations}`);
    }
  });

  it('keeps out of the build context what the image does not need, and nothing it copies', () => {
    for (const path of ['node_modules', 'dist', '.git', 'test', 'src/cli/analyze.test.ts', 'data']) {
      assert.ok(ignored(path), `${path} is sent to docker`);
    }
    for (const path of [
      'package.json',
      'src/cli/main.ts',
      'web/app.ts',
      'src/analytics/queries/summary.sql',
    ]) {
      assert.ok(!ignored(path), `${path} is excluded`);
    }
  });
});

describe('bin/gpumon.js run from a copy of what the Dockerfile copies', () => {
  let scratch = '';
  let app = '';
  const env = { ...process.env, GPUMON_NO_BUNDLE: '', GPUMON_CONFIG: '' };
  const gpumonIn = (args: string[]) => {
    const done = spawnSync(process.execPath, ['bin/gpumon.js', ...args], { cwd: app, env, encoding: 'utf8' });
    assert.equal(done.status, 0, `gpumon ${args.join(' ')}: ${done.stderr}${done.stdout}`);
    return done.stdout;
  };

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'gpumon-image-'));
    app = replay(scratch);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('holds exactly the copied paths, and a bundle newer than everything bin/gpumon.js compares it with', () => {
    assert.deepEqual(readdirSync(app).sort(), [
      'bin',
      'data',
      'dist',
      'node_modules',
      'package-lock.json',
      'package.json',
      'scripts',
      'spool',
      'src',
      'web',
    ]);
    assert.ok(!existsSync(join(app, 'src', 'cli')), 'the sources are copied');
    const built = statSync(join(app, 'dist', 'main.js')).mtimeMs;
    for (const file of filesUnder(join(app, 'src'))) {
      assert.ok(statSync(join(app, 'src', file)).mtimeMs <= built, `src/${file} is newer than the bundle`);
    }
  });

  it('prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(gpumonIn(['--version']).trim(), version);
  });

  it('shows the help of analyze, with both engines', () => {
    const help = gpumonIn(['analyze', '--help']);
    assert.match(help, /--engine/);
    assert.match(help, /--spark-remote/);
  });

  it('runs the daily analytics with the SQL files of the image', () => {
    const archive = join(scratch, 'archive');
    gpumonIn([
      'simulate',
      '--days',
      '1',
      '--end',
      '2026-11-25',
      '--hosts',
      '1',
      '--gpus',
      '2',
      '--out',
      archive,
    ]);
    const out = gpumonIn(['analyze', '--date', '2026-11-25', '--archive', archive]);
    assert.match(out, /2026-11-25\s+ok/);
    const results = readdirSync(join(archive, 'gpu-analytics', 'date=2026-11-25'));
    assert.ok(results.includes('summary.json'), results.join(', '));
    assert.ok(results.filter((f) => f.endsWith('.parquet')).length >= 5, results.join(', '));
  });

  it('serves the API and builds the page from the image', async () => {
    const child = spawn(
      process.execPath,
      ['bin/gpumon.js', 'serve', '--port', '0', '--archive', join(scratch, 'archive')],
      { cwd: app, env, stdio: 'pipe' },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    try {
      const until = Date.now() + 60_000;
      while (!/dashboard at (http:\/\/\S+)/.test(output)) {
        assert.ok(Date.now() < until && child.exitCode === null, `serve did not start: ${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = /dashboard at (http:\/\/\S+?)\/? /.exec(output)?.[1] as string;
      const health = await fetch(`${url}/api/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
      const page = await fetch(`${url}/assets/app.js`);
      assert.equal(page.status, 200, await page.clone().text());
      assert.ok((await page.text()).length > 1000);
      assert.equal((await fetch(`${url}/`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
