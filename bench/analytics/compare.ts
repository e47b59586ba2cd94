/**
 * Same results before and after a change of the queries: every analysis of the daily job run with the query
 * files of git revision REV and with the working tree's, on one DuckDB session over the same day, compared row
 * by row (numbers to 1e-9 relative: a different summation order moves the last bits).
 *
 *   npx tsx bench/analytics/compare.ts DIR REV [DATE]
 *
 * DIR holds a day written by `synthetic.ts generate` (DATE defaults to its date). Exits 1 when a value differs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ANALYSES,
  type AnalysisName,
  analysisParams,
  dailyQueries,
  partCount,
  type Query,
  querySource,
  type SharedRelationName,
} from '../../src/analytics/analyses.ts';
import { sizeOfDay } from '../../src/analytics/daily-job.ts';
import { renderSql } from '../../src/analytics/dialect.ts';
import type { JsonRow } from '../../src/analytics/engine.ts';
import { DuckDbEngine } from '../../src/analytics/engines/duckdb.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ROOT } from '../harness.ts';
import { BENCH_DATE } from './synthetic.ts';

const [dir, rev, dateArg] = process.argv.slice(2);
if (!dir || !rev) {
  process.stderr.write('usage: tsx bench/analytics/compare.ts DIR REV [DATE]\n');
  process.exit(2);
}
const date = dateArg ?? BENCH_DATE;
const part = join(dir, 'gpu-metrics', `date=${date}`);
const files = readdirSync(part)
  .filter((f) => f.endsWith('.parquet'))
  .map((f) => ({ location: join(part, f), name: f }));
const config = loadConfig({ env: process.env, flags: {} });
const params = analysisParams(config);
const engine = DuckDbEngine.fromConfig(config);
const scratchDir = mkdtempSync(join(tmpdir(), 'gpumon-bench-compare-'));
const session = await engine.open({ files, scratchDir } as Parameters<typeof engine.open>[0]);

const current = dailyQueries(engine.dialect, params);
// The relations of that revision (a relation it did not have yet is left out; its own queries do without).
const atRevision = current.flatMap((q): Query[] => {
  const name = q.name as AnalysisName | SharedRelationName;
  const shown = spawnSync('git', ['show', `${rev}:src/analytics/${querySource(name)}`], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (shown.status !== 0) return [];
  return [
    {
      name,
      source: q.source,
      ordered: q.ordered,
      sql: renderSql(shown.stdout, engine.dialect, params, `${rev}:${q.source}`),
    },
  ];
});

for (const query of atRevision) await session.materialize(query);
for (const name of ANALYSES) {
  await session.materialize({
    name: `${name}_before` as never,
    source: name,
    sql: `SELECT * FROM ${name}`,
    ordered: true,
  });
}
// This tree's, in parts as the job builds them (GPUMON_ANALYTICS_PERCENTILE_PART_SAMPLES to force parts).
let day = { samples: 0, gpus: 0 };
const parts = () => partCount(day.samples, day.gpus, config.analytics.percentilePartSamples);
for (const query of current) {
  for (const part of query.parts?.(parts()) ?? [query]) await session.materialize(part);
  if (query.name === 'gpus') day = await sizeOfDay(session);
}
process.stderr.write(`this tree: ${day.samples} samples, gpu_power_percentiles in ${parts()} part(s)\n`);

let differing = 0;
for (const name of ANALYSES) {
  const before = await session.rows(`${name}_before`);
  const after = await session.rows(name);
  let diffs = before.length === after.length ? 0 : 1;
  let maxRel = 0;
  before.forEach((row: JsonRow, i) => {
    const other = after[i] ?? {};
    for (const [key, a] of Object.entries(row)) {
      const b = other[key];
      if (typeof a === 'number' && typeof b === 'number') {
        const rel = a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
        maxRel = Math.max(maxRel, rel);
        if (rel > 1e-9) diffs++;
      } else if (a !== b) diffs++;
    }
  });
  differing += diffs;
  process.stdout.write(
    `${name.padEnd(24)} ${String(before.length).padStart(7)} rows before, ${String(after.length).padStart(7)} after, ` +
      `${diffs} values differ, largest relative difference ${maxRel.toExponential(1)}\n`,
  );
}
await session.close();
rmSync(scratchDir, { recursive: true, force: true });
process.exitCode = differing === 0 ? 0 : 1;
