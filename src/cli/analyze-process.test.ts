import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunRecord } from '../schedule/history.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const FIRST = '2026-01-14';
const LAST = '2026-01-15';

interface Gpumon {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `gpumon ARGS` as a process with `TMPDIR` set to `tmp`. */
function gpumon(tmp: string, ...args: string[]): Gpumon {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp, GPUMON_LOG_LEVEL: 'silent', GPUMON_ANALYTICS_THREADS: '1' },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function runsOf(tmp: string, archive: string): Promise<RunRecord[]> {
  const runs = gpumon(tmp, 'runs', '--json', '--archive', archive);
  assert.equal(await runs.exited, 0, runs.stderr());
  return JSON.parse(runs.stdout()) as RunRecord[];
}

describe('gpumon analyze as a process', () => {
  let root: string;
  let archive: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gpumon-analyze-process-'));
    archive = join(root, 'archive');
    const sim = gpumon(
      root,
      'simulate',
      '--days',
      '2',
      '--end',
      LAST,
      '--hosts',
      '2',
      '--gpus',
      '4',
      '--out',
      archive,
    );
    assert.equal(await sim.exited, 0, sim.stderr());
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('records the run cancelled on Ctrl-C, removes its scratch directory and exits 130', async () => {
    const tmp = await mkdtemp(join(root, 'tmp-'));
    const run = gpumon(tmp, 'analyze', '--from', FIRST, '--to', LAST, '--archive', archive);
    const until = Date.now() + 60_000;
    while (!run.stderr().includes(`analyze ${FIRST}: open`)) {
      assert.ok(Date.now() < until && run.child.exitCode === null, `no progress: ${run.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      (await readdir(tmp)).some((e) => e.startsWith('gpumon-analytics-')),
      'a scratch directory while running',
    );
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, run.stderr());
    assert.match(run.stderr(), /cancelled: SIGINT \(Ctrl-C\) during gpumon analyze/);
    assert.deepEqual(
      (await readdir(tmp)).filter((e) => e.startsWith('gpumon-analytics-')),
      [],
      'no scratch directory left',
    );
    const [record] = await runsOf(tmp, archive);
    assert.equal(record?.status, 'cancelled');
    assert.equal(record?.error, 'cancelled: SIGINT (Ctrl-C) during gpumon analyze');
    assert.equal(typeof record?.finishedAt, 'number');
    const leftovers = existsSync(join(archive, 'gpu-analytics'))
      ? (await readdir(join(archive, 'gpu-analytics'))).filter((e) => e.startsWith('.'))
      : [];
    assert.deepEqual(leftovers, [], 'no build directory left in the archive');
  });

  it('records the run cancelled on SIGTERM and exits 143', async () => {
    const tmp = await mkdtemp(join(root, 'tmp-'));
    const run = gpumon(tmp, 'analyze', '--date', LAST, '--archive', archive);
    const until = Date.now() + 60_000;
    while (!run.stderr().includes(`analyze ${LAST}: open`)) {
      assert.ok(Date.now() < until && run.child.exitCode === null, `no progress: ${run.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 143, run.stderr());
    const [record] = await runsOf(tmp, archive);
    assert.equal(record?.status, 'cancelled');
    assert.match(record?.error ?? '', /SIGTERM/);
  });

  it('quarantines a truncated file with --skip-corrupt and reports the day partial', async () => {
    const tmp = await mkdtemp(join(root, 'tmp-'));
    const day = join(archive, 'gpu-metrics', `date=${LAST}`);
    const [part] = await readdir(day);
    assert.ok(part);
    await copyFile(join(day, part), join(day, 'part-truncated.parquet'));
    await truncate(join(day, 'part-truncated.parquet'), 1000);

    const plain = gpumon(tmp, 'analyze', '--date', LAST, '--archive', archive);
    assert.equal(await plain.exited, 1, plain.stderr());
    assert.match(plain.stderr(), /ARCHIVE_FILE_CORRUPT.*part-truncated\.parquet/);
    assert.ok(existsSync(join(day, 'part-truncated.parquet')), 'left in place without --skip-corrupt');

    const skipping = gpumon(tmp, 'analyze', '--date', LAST, '--archive', archive, '--skip-corrupt');
    assert.equal(await skipping.exited, 0, skipping.stderr());
    assert.match(skipping.stdout(), new RegExp(`${LAST}\\s+partial`));
    assert.match(
      skipping.stderr(),
      /part-truncated\.parquet cannot be read and was moved to .*quarantine\/date=2026-01-15\/part-truncated\.parquet/,
    );
    assert.deepEqual(await readdir(join(archive, 'quarantine', `date=${LAST}`)), ['part-truncated.parquet']);
    const [record] = await runsOf(tmp, archive);
    assert.equal(record?.status, 'succeeded');
    const result = record?.result as { partial?: string[]; quarantined?: { file: string }[] };
    assert.deepEqual(result.partial, [LAST]);
    assert.match(result.quarantined?.[0]?.file ?? '', /part-truncated\.parquet$/);
    const summary = JSON.parse(
      await readFile(join(archive, 'gpu-analytics', `date=${LAST}`, 'summary.json'), 'utf8'),
    );
    assert.equal(summary.partial, true);
  });

  it('fails naming the path when the archive does not exist, and creates nothing', async () => {
    const tmp = await mkdtemp(join(root, 'tmp-'));
    const missing = join(root, 'no-such-archive');
    const run = gpumon(tmp, 'analyze', '--date', LAST, '--archive', missing);
    assert.equal(await run.exited, 1, run.stderr());
    assert.match(run.stderr(), new RegExp(`ARCHIVE_READ_FAILED.*${missing}.*does not exist`));
    assert.equal(existsSync(missing), false);
    await mkdir(join(root, 'empty'), { recursive: true });
  });
});
