#!/usr/bin/env node
// The gpumon command. Runs the bundle in dist/ (built by scripts/build.mjs on first use and whenever a source
// file is newer), which needs no TypeScript loader; falls back to the sources through tsx if it cannot build.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'dist', 'main.js');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function bundleIsFresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = ['package.json', 'scripts/build.mjs', 'scripts/bundle-options.mjs'];
    return (
      built >= newest(join(root, 'src')) && inputs.every((f) => built >= statSync(join(root, f)).mtimeMs)
    );
  } catch {
    return false;
  }
}

if (process.env.GPUMON_NO_BUNDLE !== '1' && !bundleIsFresh()) {
  spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
if (process.env.GPUMON_NO_BUNDLE !== '1' && bundleIsFresh()) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
