import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { countArchive, liveSamples } from './archive-rows.ts';
import {
  breakArchive,
  exitOf,
  interrupt,
  runGpumon,
  startGpumon,
  tempDir,
  terminateWithin,
  waitFor,
} from './helpers.ts';

const SHUTDOWN_TIMEOUT_MS = 6000;

/** A fast-sampling `gpumon up` on `archive` that archives every second and stops within SHUTDOWN_TIMEOUT_MS. */
const startUp = (archive: string) =>
  startGpumon(['up', '--port', '0', '--source', 'sim', '--archive', archive], {
    GPUMON_SCHEDULE_ENABLED: 'false',
    GPUMON_SOURCE_INTERVAL_MS: '200',
    GPUMON_ARCHIVE_FLUSH_INTERVAL_MS: '1000',
    GPUMON_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    GPUMON_LOG_LEVEL: 'warn',
  });

const dashboard = (stdout: () => string) =>
  waitFor('the dashboard address', () => /http:\/\/127\.0\.0\.1:\d+/.exec(stdout())?.[0], 60_000);

/** Waits until the archive holds a Parquet file of samples: the archive took at least one write. */
const firstParquetFile = (archive: string) =>
  waitFor(
    'a first Parquet file in the archive',
    () =>
      readdirSync(join(archive, 'gpu-metrics'), { recursive: true }).some((f) =>
        String(f).endsWith('.parquet'),
      )
        ? true
        : null,
    30_000,
  );

const lastLogLine = (stderr: string): Record<string, unknown> => {
  const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
};

describe('gpumon up, stopped while the archive cannot be written', () => {
  it('stops within shutdown.timeoutMs, exits 75 naming the spool that kept the samples, and the next start archives them', async (t) => {
    const archive = tempDir('up-shutdown');
    const spool = join(archive, 'state', 'archive-spool');
    const first = startUp(archive);
    await dashboard(first.stdout);
    await firstParquetFile(archive);
    const restore = breakArchive(archive);
    await waitFor(
      'a failed archive write',
      () => (first.stderr().includes('sink write failed') ? true : null),
      30_000,
    );

    const code = await terminateWithin(first, SHUTDOWN_TIMEOUT_MS, t);
    assert.equal(code, 75, `exit status 75 when samples were kept in the spool; stderr: ${first.stderr()}`);

    const summary =
      /(\d+) samples emitted, (\d+) rows archived; (\d+) samples kept in the spool (\S+), written to the archive at the next start\n$/.exec(
        first.stdout(),
      );
    assert.ok(summary, `the last line says what was kept where: ${first.stdout()}`);
    const [emitted, archived, kept] = [Number(summary[1]), Number(summary[2]), Number(summary[3])];
    assert.equal(summary[4], spool);
    assert.ok(kept > 0 && archived > 0, `archived ${archived}, kept ${kept}`);
    assert.equal(archived + kept, emitted, 'every sample emitted is in the archive or in the spool');
    const log = lastLogLine(first.stderr());
    assert.equal(log.kept, kept, `the last log line counts them: ${JSON.stringify(log)}`);
    assert.equal(log.spool, spool);

    const refused = await runGpumon(['up', '--port', '0', '--source', 'sim', '--archive', archive], {
      GPUMON_SCHEDULE_ENABLED: 'false',
    });
    assert.equal(refused.code, 1, 'a start on an archive that cannot be written fails');
    assert.match(refused.stderr, /ARCHIVE_NOT_WRITABLE/);
    assert.ok(refused.stderr.includes(archive), `the error names the archive: ${refused.stderr}`);

    restore();
    const second = startUp(archive);
    await dashboard(second.stdout);
    const stopped = await interrupt(second, SHUTDOWN_TIMEOUT_MS + 10_000);
    assert.equal(stopped.code, 0, `the next run archives everything; stderr: ${second.stderr()}`);
    const next = /(\d+) samples emitted, (\d+) rows archived \((\d+) from the spool of an earlier run\)/.exec(
      second.stdout(),
    );
    assert.ok(next, `the next stop says the spool was written: ${second.stdout()}`);
    assert.equal(Number(next[3]), kept, 'the kept samples, once');
    const rows = await countArchive(archive);
    assert.equal(rows.rows, emitted + Number(next[1]), 'every sample of both runs is archived');
    assert.equal(rows.distinct, rows.rows, 'none twice');
  });

  it('exits at once (130) on a second signal and loses nothing: the next start archives what it had taken', async () => {
    const archive = tempDir('up-second-signal');
    const first = startUp(archive);
    const url = await dashboard(first.stdout);
    await firstParquetFile(archive);
    const restore = breakArchive(archive);
    await waitFor(
      'a failed archive write',
      () => (first.stderr().includes('sink write failed') ? true : null),
      30_000,
    );
    const taken = await liveSamples(url);
    first.child.kill('SIGTERM');
    await waitFor(
      'the stop to begin',
      () => (first.stderr().includes('writing buffered samples') ? true : null),
      10_000,
    );
    first.child.kill('SIGTERM');
    const { code } = await exitOf(first, 10_000);
    assert.equal(code, 130);
    assert.match(
      first.stderr(),
      /stopping now; samples not yet archived stay in the spool \S+ for the next start/,
    );

    restore();
    const second = startUp(archive);
    await dashboard(second.stdout);
    const stopped = await interrupt(second, SHUTDOWN_TIMEOUT_MS + 10_000);
    assert.equal(stopped.code, 0, `stderr: ${second.stderr()}`);
    const lastSeen = new Map([...taken].map(([uuid, ts]) => [uuid, Math.max(...ts)]));
    const before = await countArchive(archive, lastSeen);
    const total = [...taken.values()].reduce((sum, ts) => sum + ts.length, 0);
    assert.equal(before.rows, total, 'every sample taken before the signals is archived');
    assert.equal(before.distinct, before.rows, 'none twice');
  });

  it('refuses to start, exit 1, naming the path, when archive.path is a file', async () => {
    const file = join(tempDir('up-archive-file'), 'archive');
    writeFileSync(file, 'a file, not a directory\n');
    const result = await runGpumon(['up', '--port', '0', '--source', 'sim', '--archive', file], {
      GPUMON_SCHEDULE_ENABLED: 'false',
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ARCHIVE_NOT_WRITABLE/);
    assert.ok(result.stderr.includes(file), `the error names the path: ${result.stderr}`);
  });
});
