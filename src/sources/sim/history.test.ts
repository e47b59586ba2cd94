import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { archiveFiles, readArchiveSamples } from '../../sinks/archive/archive-reader.ts';
import { LocalStorage } from '../../sinks/archive/local-storage.ts';
import { ParquetWriter } from '../../sinks/archive/parquet-writer.ts';
import { type HistoryResult, writeHistory } from './history.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

// 2 hosts x 3 GPUs, one sample a minute: 1,440 rows per GPU-day.
const FLEET = { hosts: 2, gpusPerHost: 3, seed: 11 };

async function history(rowsPerFile: number): Promise<{ storage: LocalStorage; result: HistoryResult }> {
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-history-'));
  dirs.push(dir);
  const storage = new LocalStorage(dir);
  const writer = new ParquetWriter({ storage, threads: 1 });
  try {
    const result = await writeHistory({
      ...FLEET,
      firstDate: '2026-03-01',
      lastDate: '2026-03-02',
      intervalMs: 60_000,
      writer,
      rowsPerFile,
    });
    return { storage, result };
  } finally {
    await writer.close();
  }
}

describe('simulated history in files of bounded size', () => {
  test('a run cut into small files writes the same samples as a run in one file per day', async () => {
    const whole = await history(1_000_000);
    assert.equal(whole.result.files.length, 2, 'one file per day');
    const expected = await readArchiveSamples(whole.storage);
    assert.equal(expected.length, 6 * 2 * 1440);
    // 2,880 rows: two GPU-days a file, so host 0 (GPUs 0-2) is split between two files.
    // 500 rows: each GPU's day cut into spans of 500, 500 and 440 samples.
    for (const [rowsPerFile, files] of [
      [2880, 2 * 3],
      [500, 2 * 3 * 6],
    ] as const) {
      const chunked = await history(rowsPerFile);
      assert.equal(chunked.result.files.length, files, `${rowsPerFile} rows per file`);
      assert.equal(chunked.result.samples, whole.result.samples);
      assert.deepEqual(await readArchiveSamples(chunked.storage), expected, `${rowsPerFile} rows per file`);
    }
  });

  test('no file holds more rows than asked for', async () => {
    const { storage } = await history(500);
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const connection = await instance.connect();
      const reader = await connection.runAndReadAll(
        'SELECT max(n)::INTEGER FROM (SELECT count(*) AS n FROM read_parquet($files, filename = true) GROUP BY filename)',
        { files: listValue(await archiveFiles(storage)) },
      );
      assert.deepEqual(reader.getRowsJS(), [[500]]);
    } finally {
      instance.closeSync();
    }
  });
});
