import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import { FileRunHistory, pruneRuns, type RunRecord, runHistoryPath } from './history.ts';

function run(id: string, startedAt: number, status: RunRecord['status']): RunRecord {
  return {
    id,
    trigger: 'schedule',
    scheduledAt: startedAt,
    startedAt,
    ...(status === 'running' ? {} : { finishedAt: startedAt + 1000 }),
    status,
    attempts: [{ startedAt }],
  };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gpumon-history-'));
}

describe('run history', () => {
  it('keeps the newest N succeeded and N failed runs, and every run still going', () => {
    const runs = [
      run('s1', 1, 'succeeded'),
      run('f1', 2, 'failed'),
      run('s2', 3, 'succeeded'),
      run('f2', 4, 'failed'),
      run('s3', 5, 'succeeded'),
      run('r1', 6, 'running'),
    ];
    const kept = pruneRuns(runs, { successful: 2, failed: 1 });
    assert.deepEqual(
      kept.map((r) => r.id),
      ['r1', 's3', 'f2', 's2'],
    );
  });

  it('counts cancelled runs with the failed ones when it prunes, and reads them back', async () => {
    const runs = [run('f1', 1, 'failed'), run('c1', 2, 'cancelled'), run('s1', 3, 'succeeded')];
    assert.deepEqual(
      pruneRuns(runs, { successful: 1, failed: 1 }).map((r) => r.id),
      ['s1', 'c1'],
    );
    const store = new FileRunHistory(join(tempDir(), 'analytics-runs.json'));
    await store.save([{ ...(runs[1] as RunRecord), error: 'cancelled: SIGINT' }]);
    assert.equal((await store.load())[0]?.status, 'cancelled');
  });

  it('lives at <archive>/state/<job>-runs.json', () => {
    assert.equal(runHistoryPath('/data/state', 'analytics'), '/data/state/analytics-runs.json');
  });

  it('is empty when the file does not exist yet', async () => {
    const store = new FileRunHistory(join(tempDir(), 'state', 'analytics-runs.json'));
    assert.deepEqual(await store.load(), []);
  });

  it('reads back what it saved, newest first, leaving no temporary file behind', async () => {
    const dir = join(tempDir(), 'state');
    const store = new FileRunHistory(join(dir, 'analytics-runs.json'));
    const runs = [run('new', 2000, 'failed'), run('old', 1000, 'succeeded')];
    runs[0] = {
      ...(runs[0] as RunRecord),
      error: 'boom',
      attempts: [{ startedAt: 2000, finishedAt: 2500, error: 'boom' }],
    };
    await store.save(runs);
    assert.deepEqual(await store.load(), runs);
    assert.deepEqual(readdirSync(dir), ['analytics-runs.json']);
    assert.equal(JSON.parse(readFileSync(join(dir, 'analytics-runs.json'), 'utf8')).version, 1);
  });

  it('keeps the runs another process wrote to the same file, and drops only its own pruned runs', async () => {
    const file = join(tempDir(), 'runs.json');
    const up = new FileRunHistory(file, { successful: 3, failed: 3 });
    const analyze = new FileRunHistory(file, { successful: 3, failed: 3 });
    await up.save([run('scheduled-1', 1000, 'succeeded')]);
    await analyze.save([run('manual-1', 2000, 'failed'), ...(await analyze.load())]);
    await up.save([run('scheduled-2', 3000, 'succeeded'), run('scheduled-1', 1000, 'succeeded')]);
    assert.deepEqual(
      (await up.load()).map((r) => r.id),
      ['scheduled-2', 'manual-1', 'scheduled-1'],
    );
    await up.save([run('scheduled-2', 3000, 'succeeded')]);
    assert.deepEqual(
      (await up.load()).map((r) => r.id),
      ['scheduled-2', 'manual-1'],
    );
  });

  it('reports a file that is not JSON as corrupt, naming the file', async () => {
    const file = join(tempDir(), 'analytics-runs.json');
    writeFileSync(file, '{"version": 1, "runs": [');
    await assert.rejects(
      new FileRunHistory(file).load(),
      (err) => isGpumonError(err, 'ARCHIVE_FILE_CORRUPT') && err.message.includes(file),
    );
  });

  it('reports a record of the wrong shape as corrupt, naming the field', async () => {
    const file = join(tempDir(), 'analytics-runs.json');
    writeFileSync(file, JSON.stringify({ version: 1, runs: [{ id: 'x', status: 'done' }] }));
    await assert.rejects(
      new FileRunHistory(file).load(),
      (err) =>
        isGpumonError(err, 'ARCHIVE_FILE_CORRUPT') &&
        err.message.includes(file) &&
        /runs\.0\./.test(err.message),
    );
  });

  it('moves a corrupt file aside as .corrupt', async () => {
    const file = join(tempDir(), 'analytics-runs.json');
    writeFileSync(file, 'garbage');
    const keptAs = await new FileRunHistory(file).quarantine();
    assert.equal(keptAs, `${file}.corrupt`);
    assert.equal(readFileSync(`${file}.corrupt`, 'utf8'), 'garbage');
    assert.deepEqual(await new FileRunHistory(file).load(), []);
  });
});
