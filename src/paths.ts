import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The root of the gpumon checkout (or installed package): the nearest folder above this module whose
 * package.json is gpumon's. Files gpumon reads at run time (web/, SQL queries, package.json) are found from it,
 * so the same code works run from src/ by tsx and from the bundle in dist/.
 */
export const PROJECT_ROOT: string = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'gpumon'
    ) {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`gpumon's package.json not found above ${start}`);
  }
}

/** A path inside the project, from '/'-separated parts relative to its root. */
export function projectPath(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}
