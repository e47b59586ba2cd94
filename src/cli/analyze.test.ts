import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ANALYSES, PARTIAL_RELATIONS, SHARED_RELATIONS } from '../analytics/analyses.ts';

/** The shared relations of a whole day, and the kept hours built empty; no correlation_hours (corr() instead). */
const WHOLE_DAY_RELATIONS = SHARED_RELATIONS.length - 1 + PARTIAL_RELATIONS.length - 1;

import { at, createTestArchive, GPU_A, series, type TestArchive } from '../analytics/testing.ts';
import { isGpumonError } from '../errors.ts';
import { FileRunHistory, runHistoryPath } from '../schedule/history.ts';
import { analyzeCommand, resolveDates } from './analyze.ts';
import { ANALYTICS_JOB_NAME } from './runs.ts';

/** Runs `gpumon analyze ARGS` in-process; returns the exit status and what it wrote. */
async function analyze(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((chunk: string) => {
    out.stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    out.stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    await analyzeCommand().parseAsync(['node', 'analyze', ...args]);
    return { code: Number(process.exitCode ?? 0), ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = undefined;
  }
}

describe('gpumon analyze', () => {
  let archive: TestArchive;
  beforeEach(async () => {
    archive = await createTestArchive();
    process.env.GPUMON_LOG_LEVEL = 'silent';
    process.env.GPUMON_ANALYTICS_MEMORY_LIMIT = '512MB';
  });
  afterEach(async () => {
    delete process.env.GPUMON_LOG_LEVEL;
    delete process.env.GPUMON_ANALYTICS_MEMORY_LIMIT;
    await archive.cleanup();
  });

  it('exits 2 naming --date when the date is not a calendar date', async () => {
    const { code, stderr } = await analyze('--date', '2026-13-01', '--archive', archive.root);
    assert.equal(code, 2);
    assert.match(stderr, /--date/);
    assert.match(stderr, /2026-13-01/);
  });

  it('exits 2 on --date with --from, --from without --to, and a range running backwards', async () => {
    for (const args of [
      ['--date', '2026-01-15', '--from', '2026-01-14', '--to', '2026-01-15'],
      ['--from', '2026-01-14'],
      ['--from', '2026-01-15', '--to', '2026-01-14'],
    ]) {
      const { code, stderr } = await analyze(...args, '--archive', archive.root);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, /--(date|from|to)/);
    }
  });

  it('--hour keeps the partials of the hours given, a row each, and the night reads them', async () => {
    await archive.addFile(
      '2026-01-15',
      series(GPU_A, at('10:59:50'), 20, [{ gpu_power_draw_watts: 100 }, { gpu_power_draw_watts: 200 }]),
    );
    const { code, stdout } = await analyze(
      '--hour',
      '2026-01-15T10',
      '2026-01-15T11',
      '--archive',
      archive.root,
    );
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^hour\s+status\s+files\s+rows\s+seconds$/);
    assert.match(lines[1] ?? '', /^2026-01-15T10\s+ok\s+1\s+3\s+\d/);
    assert.match(lines[2] ?? '', /^2026-01-15T11\s+ok\s+1\s+3\s+\d/);
    for (const hour of ['10', '11']) {
      const dir = join(archive.root, 'gpu-analytics', 'partials', 'date=2026-01-15', `hour=${hour}`);
      assert.ok(existsSync(join(dir, 'inputs.json')), dir);
    }
    const night = await analyze('--date', '2026-01-15', '--archive', archive.root);
    assert.equal(night.code, 0, night.stderr);
  });

  it('--hour exits 2 naming a bad hour, and when combined with --date', async () => {
    const bad = await analyze('--hour', '2026-01-15T24', '--archive', archive.root);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /2026-01-15T24 is not an hour/);
    const both = await analyze('--hour', 'last', '--date', '2026-01-15', '--archive', archive.root);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--hour cannot be combined with --date/);
  });

  it('exits 2 on an unknown flag', () => {
    const script =
      "import('./src/cli/program.ts').then((m) => m.gpumonProgram().parseAsync(['node', 'gpumon', 'analyze', '--bogus']))";
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 2, child.stderr);
    assert.match(child.stderr, /--bogus/);
    assert.match(child.stderr, /see 'gpumon analyze --help'/);
  });

  it('runs every date of a range, prints a row per date, and exits 1 when one failed', async () => {
    await archive.addFile(
      '2026-01-15',
      series(GPU_A, at('10:00:00'), 1, [{ gpu_power_draw_watts: 100 }, { gpu_power_draw_watts: 100 }]),
    );
    const { code, stdout, stderr } = await analyze(
      '--from',
      '2026-01-14',
      '--to',
      '2026-01-15',
      '--archive',
      archive.root,
    );
    assert.equal(code, 1);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^date\s+status\s+gpus/);
    assert.match(lines[1] ?? '', /^2026-01-14\s+failed\s+ANALYTICS_NO_DATA/);
    assert.match(lines[2] ?? '', /^2026-01-15\s+ok\s+1\s+2\s/);
    assert.match(stderr, /2026-01-14 failed: \[ANALYTICS_NO_DATA\] no samples for 2026-01-14/);
    // Every shared relation and analysis is a step, the hours kept by hourly runs (none: built empty), plus
    // opening the day, writing and publishing the results.
    const steps = WHOLE_DAY_RELATIONS + ANALYSES.length + 3;
    assert.match(stderr, new RegExp(`analyze 2026-01-15: daily_stats \\(\\d+/${steps}\\)`));
  });

  it('exits 0 when every date succeeded', async () => {
    await archive.addFile('2026-01-15', series(GPU_A, at('10:00:00'), 1, [{}, {}]));
    const { code } = await analyze('--date', '2026-01-15', '--archive', archive.root);
    assert.equal(code, 0);
  });

  it('records each run by hand in the run history that gpumon runs shows', async () => {
    await archive.addFile('2026-01-15', series(GPU_A, at('10:00:00'), 1, [{}, {}]));
    await analyze('--date', '2026-01-15', '--archive', archive.root);
    await analyze('--date', '2026-01-14', '--archive', archive.root);
    const runs = await new FileRunHistory(
      runHistoryPath(join(archive.root, 'state'), ANALYTICS_JOB_NAME),
    ).load();
    assert.deepEqual(
      runs.map((r) => [r.trigger, r.status, r.attempts.length]),
      [
        ['manual', 'failed', 1],
        ['manual', 'succeeded', 1],
      ],
    );
    assert.match(runs[0]?.error ?? '', /ANALYTICS_NO_DATA.*2026-01-14/);
  });

  it('with --write-influxdb and InfluxDB unreachable: exits 1, the run record names ANALYTICS_INFLUXDB_WRITE_FAILED, the Parquet results stay', async () => {
    await archive.addFile('2026-01-15', series(GPU_A, at('10:00:00'), 1, [{}, {}]));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const influxdb = `http://127.0.0.1:${port}`;
    const { code, stdout, stderr } = await analyze(
      '--date',
      '2026-01-15',
      '--archive',
      archive.root,
      '--write-influxdb',
      '--influxdb',
      influxdb,
    );
    assert.equal(code, 1);
    assert.match(stdout, /2026-01-15\s+failed\s+ANALYTICS_INFLUXDB_WRITE_FAILED/);
    assert.match(stderr, new RegExp(`to InfluxDB ${influxdb} \\(database gpumon\\)`));
    const [run] = await new FileRunHistory(
      runHistoryPath(join(archive.root, 'state'), ANALYTICS_JOB_NAME),
    ).load();
    assert.equal(run?.status, 'failed');
    assert.match(run?.error ?? '', /ANALYTICS_INFLUXDB_WRITE_FAILED.*Parquet results are published/);
    assert.ok(existsSync(join(archive.root, 'gpu-analytics', 'date=2026-01-15', 'daily_stats.parquet')));
  });

  it('exits 2 naming --spark-remote when it is not an sc:// URL', async () => {
    const { code, stderr } = await analyze(
      '--date',
      '2026-01-15',
      '--archive',
      archive.root,
      '--engine',
      'spark',
      '--spark-remote',
      'http://spark:15002',
    );
    assert.equal(code, 2);
    assert.match(stderr, /--spark-remote/);
    assert.match(stderr, /http:\/\/spark:15002/);
  });

  it('exits 2 naming --engine when it names no engine', async () => {
    const { code, stderr } = await analyze(
      '--date',
      '2026-01-15',
      '--archive',
      archive.root,
      '--engine',
      'hive',
    );
    assert.equal(code, 2);
    assert.match(stderr, /--engine "hive"/);
    assert.match(stderr, /duckdb, spark/);
  });

  it('exits 1 naming the address when the Spark Connect server cannot be reached', async () => {
    await archive.addFile('2026-01-15', series(GPU_A, at('10:00:00'), 1, [{}, {}]));
    const { code, stdout, stderr } = await analyze(
      '--date',
      '2026-01-15',
      '--archive',
      archive.root,
      '--engine',
      'spark',
      '--spark-remote',
      'sc://127.0.0.1:1',
    );
    assert.equal(code, 1);
    assert.match(stdout, /2026-01-15\s+failed\s+ANALYTICS_ENGINE_UNAVAILABLE/);
    assert.match(stderr, /Spark Connect server at 127\.0\.0\.1:1 cannot be reached/);
  });
});

describe('the dates of gpumon analyze', () => {
  it('default to yesterday in UTC', () => {
    assert.deepEqual(resolveDates({}, new Date('2026-03-01T00:30:00Z')), ['2026-02-28']);
  });

  it('take today and yesterday by name, in UTC', () => {
    const now = new Date('2026-03-01T23:30:00Z');
    assert.deepEqual(resolveDates({ date: 'today' }, now), ['2026-03-01']);
    assert.deepEqual(resolveDates({ date: 'yesterday' }, now), ['2026-02-28']);
  });

  it('refuse a --date that is neither a date nor today or yesterday, naming the flag', () => {
    assert.throws(
      () => resolveDates({ date: 'tomorrow' }),
      (err) =>
        isGpumonError(err, 'USAGE') && err.message.includes('--date') && err.message.includes('tomorrow'),
    );
  });

  it('run from --from to --to, both included', () => {
    assert.deepEqual(resolveDates({ from: '2025-12-30', to: '2026-01-02' }), [
      '2025-12-30',
      '2025-12-31',
      '2026-01-01',
      '2026-01-02',
    ]);
  });

  it('refuse a range of more than a year', () => {
    assert.throws(
      () => resolveDates({ from: '2020-01-01', to: '2026-01-01' }),
      (err) => isGpumonError(err, 'USAGE') && err.message.includes('--from 2020-01-01'),
    );
  });
});
