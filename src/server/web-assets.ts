import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { projectPath } from '../paths.ts';

/** The repository's web/ folder: the page's source. */
export const DEFAULT_WEB_DIR = projectPath('web');

export type AssetName = 'index.html' | 'app.js' | 'app.css' | 'uplot.css' | 'favicon.svg';

export const ASSET_TYPES: Record<AssetName, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'uplot.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/**
 * The page's files, read or built once and then served from memory. app.js is web/app.ts bundled by esbuild
 * (uPlot included). A failed read or build is not cached: the next request tries again.
 */
export class WebAssets {
  private readonly cache = new Map<AssetName, Promise<string>>();

  constructor(private readonly webDir: string = DEFAULT_WEB_DIR) {}

  get(name: AssetName): Promise<string> {
    let text = this.cache.get(name);
    if (!text) {
      text = this.load(name);
      this.cache.set(name, text);
      text.catch(() => this.cache.delete(name));
    }
    return text;
  }

  /** Builds everything now, so the first page load does not wait and a broken bundle shows at startup. */
  async warm(): Promise<void> {
    await Promise.all((Object.keys(ASSET_TYPES) as AssetName[]).map((name) => this.get(name)));
  }

  private async load(name: AssetName): Promise<string> {
    switch (name) {
      case 'app.js':
        return bundle(join(this.webDir, 'app.ts'));
      case 'uplot.css':
        return readFile(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), 'utf8');
      default:
        return readFile(join(this.webDir, name), 'utf8');
    }
  }
}

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced no output for ${entry}`);
  return out.text;
}
