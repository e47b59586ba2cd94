import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { archiveFiles, countArchiveRows } from '../sinks/archive/archive-reader.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { simulateCommand } from './simulate.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Runs `gpumon simulate ARGS` in a child process (so exit status and stderr are real). */
function simulate(args: string[]) {
  const code =
    "const { simulateCommand } = await import('./src/cli/simulate.ts');" +
    'await simulateCommand().parseAsync(process.argv.slice(1), { from: "user" });';
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, '--', ...args], {
    encoding: 'utf8',
    env: { ...process.env, GPUMON_CONFIG: '' },
  });
}

describe('gpumon simulate', () => {
  test('writes hosts x gpus x steps samples, one partition per day, rows sorted', async () => {
    const out = await mkdtemp(join(tmpdir(), 'gpumon-simulate-'));
    dirs.push(out);
    const args = [
      '--days',
      '2',
      '--end',
      '2026-03-02',
      '--hosts',
      '3',
      '--gpus',
      '2',
      '--interval-ms',
      '60000',
    ];
    const result = simulate([...args, '--out', out, '--seed', '9']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /wrote 17280 samples .* samples\/s/);
    assert.match(result.stderr, /100%/);
    const storage = new LocalStorage(out);
    assert.equal(await countArchiveRows(storage, '2026-03-01'), 3 * 2 * 1440);
    assert.equal(await countArchiveRows(storage, '2026-03-02'), 3 * 2 * 1440);
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const files = await archiveFiles(storage);
    const unsorted = await connection.runAndReadAll(
      'SELECT count(*)::INTEGER FROM (SELECT host, gpu_index, ts, lag((host, gpu_index, ts)) OVER w AS previous ' +
        'FROM read_parquet($files, filename = true, file_row_number = true) ' +
        'WINDOW w AS (PARTITION BY filename ORDER BY file_row_number)) WHERE (host, gpu_index, ts) < previous',
      { files: listValue(files) },
    );
    instance.closeSync();
    assert.deepEqual(unsorted.getRowsJS(), [[0]]);
  });

  test('a bad flag exits 2 with a message naming the flag and what it allows', () => {
    const result = simulate(['--hosts', 'lots']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--hosts must be integer 1\.\.100000, got "lots"/);
    const days = simulate(['--days', '0']);
    assert.equal(days.status, 2);
    assert.match(days.stderr, /--days must be an integer 1\.\.3650/);
  });

  test('--help explains every flag with its default', () => {
    const help = simulateCommand().helpInformation();
    for (const flag of ['--days', '--end', '--hosts', '--gpus', '--seed', '--interval-ms', '--out']) {
      const line = help.slice(help.indexOf(`  ${flag} `)).split(/\n\s+-/)[0] as string;
      assert.match(line, /default/, `${flag} has no default in --help`);
    }
  });
});
