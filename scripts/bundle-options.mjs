// How gpumon is bundled with esbuild: shared by scripts/build.mjs (dist/, which bin/gpumon.js runs) and the
// benchmarks that bundle a program the same way.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Packages bundled into gpumon's own code instead of loaded from node_modules. */
const BUNDLED = new Set(['@platformatic/kafka']);

/**
 * esbuild options for gpumon's code under `root`. npm packages stay external, loaded from node_modules,
 * except @platformatic/kafka: bundled with its pure-JS dependencies, it costs a process ~11 MiB less than as
 * ~300 separate modules (docs/decisions/0001-agent-memory.md). Its WebAssembly and native helpers stay
 * external: they find their files relative to their own modules.
 */
export function bundleOptions(root) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return {
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: [
      ...Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((name) => !BUNDLED.has(name)),
      '@platformatic/wasm-utils',
      '@node-rs/crc32',
      'protobufjs',
    ],
    // Bundled CommonJS dependencies (ajv, avsc, debug) call require() for Node's own modules.
    banner: {
      js: "import { createRequire as __gpumonRequire } from 'node:module'; const require = __gpumonRequire(import.meta.url);",
    },
    logLevel: 'warning',
  };
}
