import type { BuildOptions } from 'esbuild';

/** esbuild options for gpumon's code under `root` (see bundle-options.mjs). */
export declare function bundleOptions(root: string): BuildOptions;
