import { readFileSync } from 'node:fs';
import { projectPath } from './paths.ts';

/** gpumon's version, from package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }
).version;
