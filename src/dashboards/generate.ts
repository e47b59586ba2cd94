/**
 * The dashboards as files: deploy/grafana/dashboards/<name>.json, written by `npm run dashboards` and
 * `npm run docs`
 * (src/dashboards/dashboards.test.ts fails when the committed JSON differs from what this generates).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyticsDashboard } from './analytics.ts';
import type { Dashboard } from './grafana.ts';
import { idleLoadDashboard } from './idle-load.ts';
import { realtimeDashboard } from './realtime.ts';

export const DASHBOARDS_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'deploy',
  'grafana',
  'dashboards',
);

/** Each dashboard by its file name (gpumon.json: the real-time one, Grafana's home dashboard). */
export function dashboards(): Record<string, Dashboard> {
  return {
    'gpumon.json': realtimeDashboard(),
    'gpumon-analytics.json': analyticsDashboard(),
    'gpumon-idle-load.json': idleLoadDashboard(),
  };
}

const ROOT = join(DASHBOARDS_DIR, '..', '..', '..');

/** The file's text: the JSON as biome formats it (the tree is checked by `biome check .`). */
export function render(d: Dashboard): string {
  const biome = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'biome'),
    ['format', '--stdin-file-path=dashboard.json'],
    {
      input: JSON.stringify(d, null, 2),
      encoding: 'utf8',
      cwd: ROOT,
    },
  );
  if (biome.status !== 0) throw new Error(`biome format failed: ${biome.stderr || biome.error?.message}`);
  return biome.stdout;
}

/** Writes every dashboard's file; returns the paths written, relative to the repository. */
export function writeDashboards(): string[] {
  return Object.entries(dashboards()).map(([file, d]) => {
    writeFileSync(join(DASHBOARDS_DIR, file), render(d));
    return `deploy/grafana/dashboards/${file}`;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const path of writeDashboards()) console.log(`wrote ${path}`);
}
