import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { isGpumonError } from '../../errors.ts';
import { type GpuSample, nullIdentity, nullMetrics, parseSample } from '../../metrics/sample.ts';
import { SampleColumns } from '../../metrics/sample-columns.ts';
import { capturingLogger } from '../../testing/logger.ts';
import { countArchiveRows, readArchiveSamples } from './archive-reader.ts';
import { ArchiveSink } from './archive-sink.ts';
import { LocalStorage } from './local-storage.ts';
import { ABANDONED_AFTER_MS, ParquetWriter } from './parquet-writer.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gpumon-archive-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function sample(ts: number, host: string, gpu: number, extra: Partial<GpuSample> = {}): GpuSample {
  return parseSample({
    ...nullIdentity(),
    ts,
    host,
    gpu_index: gpu,
    uuid: `GPU-${host}-${gpu}`,
    model: 'NVIDIA H100 80GB HBM3',
    pci_bus_id: gpu === 1 ? null : `00000000:${18 + gpu}:00.0`,
    driver_version: '550.90.07',
    ...nullMetrics(),
    gpu_utilization_percent: (ts / 1000) % 100,
    gpu_memory_total_bytes: 85_520_809_984,
    gpu_memory_used_bytes: 2 ** 40 + gpu,
    gpu_energy_joules_total: 1e9 + ts / 7,
    gpu_clock_throttle_reasons: gpu === 0 ? 0x40 : null,
    ...extra,
  });
}

async function query(files: string[], sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    return (await connection.runAndReadAll(sql, { files: listValue(files) })).getRowObjectsJS();
  } finally {
    instance.closeSync();
  }
}

async function parquetFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

describe('ParquetWriter', () => {
  const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);

  test('samples read back from Parquet are identical, nulls included, sorted by host, GPU and time', async () => {
    const root = await tempDir();
    const sink = new ArchiveSink({ storage: new LocalStorage(root), rowGroupSize: 4096 });
    const samples: GpuSample[] = [];
    for (let i = 9; i >= 0; i--) {
      for (const host of ['b-host', 'a-host'])
        for (const gpu of [1, 0]) samples.push(sample(t0 + i * 1000, host, gpu));
    }
    await sink.write(samples);
    await sink.close();
    const back = await readArchiveSamples(new LocalStorage(root));
    const expected = [...samples].sort(
      (x, y) => x.host.localeCompare(y.host) || x.gpu_index - y.gpu_index || x.ts - y.ts,
    );
    assert.deepEqual(back, expected);
    assert.equal(await countArchiveRows(new LocalStorage(root), '2026-11-25'), 40);
  });

  test('a batch across midnight UTC becomes one file per date', async () => {
    const root = await tempDir();
    const writer = new ParquetWriter({ storage: new LocalStorage(root) });
    const midnight = Date.UTC(2026, 10, 26);
    const paths = await writer.writeSamples([
      sample(midnight - 2000, 'h', 0),
      sample(midnight - 1000, 'h', 0),
      sample(midnight, 'h', 0),
    ]);
    await writer.close();
    assert.equal(paths.length, 2);
    // The schema tag names the decimals the file stores (encoding.ts).
    assert.match(
      paths[0] as string,
      /^gpu-metrics\/date=2026-11-25\/part-\d+-\d+-\d+-[0-9a-f]+\.s-[0-9a-f]{10}\.parquet$/,
    );
    assert.match(paths[1] as string, /^gpu-metrics\/date=2026-11-26\/part-/);
    const storage = new LocalStorage(root);
    assert.equal(await countArchiveRows(storage, '2026-11-25'), 2);
    assert.equal(await countArchiveRows(storage, '2026-11-26'), 1);
    assert.equal(await countArchiveRows(storage), 3);
  });

  test('names each file by its first sample time, whether the batch holds one date or several', async () => {
    const root = await tempDir();
    const writer = new ParquetWriter({ storage: new LocalStorage(root) });
    const midnight = Date.UTC(2026, 10, 26);
    const oneDay = await writer.writeSamples([
      sample(t0 + 2000, 'h', 0),
      sample(t0 + 1000, 'h', 1),
      sample(t0 + 3000, 'h', 0),
    ]);
    const twoDays = await writer.writeSamples([
      sample(midnight + 500, 'h', 0),
      sample(midnight - 1500, 'h', 0),
    ]);
    await writer.close();
    const firstTs = (path: string) => Number(/\/part-(\d+)-/.exec(path)?.[1]);
    assert.deepEqual(oneDay.map(firstTs), [t0 + 1000]);
    assert.deepEqual(twoDays.map(firstTs), [midnight - 1500, midnight + 500]);
  });

  test('says when DuckDB has begun writing a batch, so the next one can be made meanwhile', async () => {
    const root = await tempDir();
    const writer = new ParquetWriter({ storage: new LocalStorage(root) });
    const { gpus, columns } = SampleColumns.fromSamples([sample(t0, 'h', 0), sample(t0 + 1000, 'h', 0)]);
    const batch = await writer.begin(gpus);
    batch.append(columns);
    let finished = false;
    const finishing = batch.finish().then((paths) => {
      finished = true;
      return paths;
    });
    await batch.writing();
    assert.equal(finished, false, 'the write is under way, not over');
    assert.equal((await finishing).length, 1);
    // A batch that ends without a file, or is aborted, says so too: nobody waits for ever.
    const empty = await writer.begin(gpus);
    await empty.finish();
    await empty.writing();
    const dropped = await writer.begin(gpus);
    await dropped.abort();
    await dropped.writing();
    await writer.close();
  });

  test('a batch told which metrics every row leaves null writes the same file, and refuses a value in one', async () => {
    const samples = [sample(t0, 'h', 0), sample(t0 + 1000, 'h', 0), sample(t0 + 2000, 'h', 1)];
    const { gpus, columns } = SampleColumns.fromSamples(samples);
    const never = ['gpu_fan_speed_percent', 'gpu_pcie_link_width_lanes', 'gpu_video_clock_mhz'];
    const write = async (nullMetrics: string[]) => {
      const root = await tempDir();
      const writer = new ParquetWriter({ storage: new LocalStorage(root) });
      const batch = await writer.begin(gpus, nullMetrics);
      batch.append(columns);
      const [path] = await batch.finish();
      await writer.close();
      return { root, path: path as string };
    };
    const all = await write([]);
    const some = await write(never);
    // Same schema (the file name's tag) and the same rows, nulls included.
    assert.equal(some.path.split('.s-')[1], all.path.split('.s-')[1]);
    assert.deepEqual(
      await readArchiveSamples(new LocalStorage(some.root)),
      await readArchiveSamples(new LocalStorage(all.root)),
    );

    const writer = new ParquetWriter({ storage: new LocalStorage(await tempDir()) });
    const batch = await writer.begin(gpus, ['gpu_utilization_percent']);
    assert.throws(
      () => batch.append(columns),
      (err: unknown) =>
        isGpumonError(err, 'ARCHIVE_WRITE_FAILED') &&
        /row 0 has a value for gpu_utilization_percent, which this batch was told is always null/.test(
          err.message,
        ),
    );
    await batch.abort();
    await assert.rejects(
      writer.begin(gpus, ['gpu_fan_speed']),
      /a Parquet batch cannot leave out gpu_fan_speed: no such metric/,
    );
    await writer.close();
  });

  test('files are zstd with the configured row-group size, ts a UTC-adjusted timestamp, float64 metrics exact decimals where their values allow', async () => {
    const root = await tempDir();
    const writer = new ParquetWriter({ storage: new LocalStorage(root), rowGroupSize: 4096 });
    const samples = Array.from({ length: 10_000 }, (_, i) => sample(t0 + i * 1000, 'h', 0));
    await writer.writeSamples(samples);
    await writer.close();
    const files = await parquetFiles(root);
    assert.equal(files.length, 1);
    const groups = await query(
      files,
      'SELECT row_group_id, any_value(row_group_num_rows)::INTEGER AS n, ' +
        'list(DISTINCT compression) AS codecs FROM parquet_metadata($files) GROUP BY row_group_id ORDER BY 1',
    );
    assert.deepEqual(
      groups.map((g) => g.n),
      [4096, 4096, 1808],
    );
    for (const g of groups) assert.deepEqual(g.codecs, ['ZSTD']);
    const types = await query(
      files,
      'SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($files))',
    );
    const typeOf = Object.fromEntries(types.map((t) => [t.column_name, t.column_type]));
    assert.equal(typeOf.ts, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(typeOf.gpu_index, 'INTEGER');
    assert.equal(typeOf.host, 'VARCHAR');
    assert.equal(typeOf.gpu_memory_used_bytes, 'BIGINT');
    assert.equal(typeOf.gpu_clock_throttle_reasons, 'BIGINT');
    // Whole degrees; energy to the millijoule (1e9 + ts / 7 has no short decimal form); all-null columns.
    assert.equal(typeOf.gpu_temperature_celsius, 'DECIMAL(9,0)');
    assert.equal(typeOf.gpu_utilization_percent, 'DECIMAL(9,0)');
    assert.equal(typeOf.gpu_energy_joules_total, 'DOUBLE');
    assert.deepEqual(Object.keys(typeOf).slice(0, 3), ['ts', 'host', 'gpu_index']);
    // A DOUBLE column is left: version 1 encodings, no BYTE_STREAM_SPLIT, which Spark 4.0 cannot read.
    const [encodings] = await query(
      files,
      'SELECT list(DISTINCT encodings ORDER BY encodings) AS all FROM parquet_metadata($files)',
    );
    assert.deepEqual(encodings?.all, ['PLAIN', 'PLAIN_DICTIONARY']);
  });

  test('a write leaves no temporary file behind, and a failed one leaves nothing at all', async () => {
    const root = await tempDir();
    const tmp = await tempDir();
    const storage = new LocalStorage(root);
    const writer = new ParquetWriter({ storage, tmpDir: tmp });
    await writer.writeSamples([sample(t0, 'h', 0)]);
    const [staging, ...others] = await readdir(tmp);
    assert.match(staging ?? '', /^gpumon-parquet-/);
    assert.deepEqual(others, []);
    assert.deepEqual(await readdir(join(tmp, staging as string)), []);
    const names = (await parquetFiles(root)).map((f) => f.slice(root.length));
    assert.equal(names.length, 1);
    assert.match(names[0] as string, /^\/gpu-metrics\/date=2026-11-25\/part-[^/]+\.parquet$/);

    const failRoot = await tempDir();
    const failing = new LocalStorage(failRoot);
    failing.put = async () => {
      throw new Error('disk full');
    };
    const broken = new ParquetWriter({ storage: failing, tmpDir: tmp });
    await assert.rejects(broken.writeSamples([sample(t0, 'h', 0)]), (err) =>
      isGpumonError(err, 'ARCHIVE_WRITE_FAILED'),
    );
    await broken.close();
    await writer.close();
    assert.deepEqual(await readdir(tmp), []);
    assert.deepEqual(await parquetFiles(failRoot), []);
  });

  test('stages in a directory of its own, mode 0700, never in a shared name another user could plant', async () => {
    const tmp = await tempDir();
    const elsewhere = await tempDir();
    // Another user's traps at the old fixed names: a symlinked directory, and a symlink at a batch's file name.
    await symlink(elsewhere, join(tmp, 'gpumon-parquet'));
    await symlink(
      join(elsewhere, 'stolen.parquet'),
      join(elsewhere, `batch_${process.pid}_1-2026-11-25.parquet.tmp`),
    );
    const root = await tempDir();
    const writer = new ParquetWriter({ storage: new LocalStorage(root), tmpDir: tmp });
    const [path] = await writer.writeSamples([sample(t0, 'h', 0), sample(t0 + 1000, 'h', 1)]);
    assert.ok(path);
    assert.equal(await countArchiveRows(new LocalStorage(root)), 2);
    const staging = (await writer.stagingDir()) as string;
    assert.match(staging, new RegExp(`^${tmp}/gpumon-parquet-\\w{6}$`));
    assert.equal((await stat(staging)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(elsewhere), [`batch_${process.pid}_1-2026-11-25.parquet.tmp`]);
    assert.equal(existsSync(join(elsewhere, 'stolen.parquet')), false, 'nothing written through the symlink');
    await writer.close();
    assert.equal(existsSync(staging), false, 'the staging directory goes with close');
  });

  test('two writers of one process, or two processes, never share a staging directory', async () => {
    const tmp = await tempDir();
    const writers = [0, 1].map(async () => {
      const root = await tempDir();
      const writer = new ParquetWriter({ storage: new LocalStorage(root), tmpDir: tmp });
      await writer.writeSamples([sample(t0, 'h', 0)]);
      return { writer, root, staging: await writer.stagingDir() };
    });
    const [a, b] = await Promise.all(writers);
    assert.notEqual(a?.staging, b?.staging);
    assert.equal(await countArchiveRows(new LocalStorage(a?.root as string)), 1);
    assert.equal(await countArchiveRows(new LocalStorage(b?.root as string)), 1);
    await a?.writer.close();
    await b?.writer.close();
  });

  test('blames the temporary directory, not the archive, when it cannot stage a file', async () => {
    const tmp = await tempDir();
    const notADir = join(tmp, 'a-file');
    await writeFile(notADir, 'not a directory');
    const writer = new ParquetWriter({ storage: new LocalStorage(await tempDir()), tmpDir: notADir });
    await assert.rejects(
      writer.writeSamples([sample(t0, 'h', 0)]),
      (err) =>
        isGpumonError(err, 'TEMP_FILE_FAILED') &&
        err.message.includes(notADir) &&
        err.message.includes('TMPDIR') &&
        !err.message.includes('file://'),
    );
    await writer.close();
  });

  test('removes the temporary files an earlier put abandoned in a day it writes, once, and keeps recent ones', async () => {
    const root = await tempDir();
    const day = join(root, 'gpu-metrics', 'date=2026-11-25');
    await mkdir(day, { recursive: true });
    const hourAgo = (Date.now() - ABANDONED_AFTER_MS - 60_000) / 1000;
    for (const name of ['.part-a.parquet.0f0f0f0f.tmp', '.part-b.parquet.1e1e1e1e.tmp']) {
      await writeFile(join(day, name), 'half a file');
      await utimes(join(day, name), hourAgo, hourAgo);
    }
    await writeFile(join(day, '.part-c.parquet.2d2d2d2d.tmp'), 'a put under way');
    const { logger, lines } = capturingLogger();
    const storage = new LocalStorage(root);
    assert.deepEqual(
      await storage.list('gpu-metrics/date=2026-11-25'),
      [],
      'temporary names are never listed',
    );

    const writer = new ParquetWriter({ storage, logger });
    await writer.writeSamples([sample(t0, 'h', 0)]);
    const left = (await readdir(day)).sort();
    assert.equal(left.length, 2, left.join(', '));
    assert.equal(left[0], '.part-c.parquet.2d2d2d2d.tmp');
    assert.match(left[1] as string, /^part-.*\.parquet$/);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.removed]),
      [
        [
          'removed temporary files abandoned by earlier writes',
          ['.part-a.parquet.0f0f0f0f.tmp', '.part-b.parquet.1e1e1e1e.tmp'],
        ],
      ],
    );

    // Once per day and writer: a file abandoned since is left to the next process (or the next day).
    await writeFile(join(day, '.part-d.parquet.3c3c3c3c.tmp'), 'half a file');
    await utimes(join(day, '.part-d.parquet.3c3c3c3c.tmp'), hourAgo, hourAgo);
    await writer.writeSamples([sample(t0 + 1000, 'h', 0)]);
    assert.ok((await readdir(day)).includes('.part-d.parquet.3c3c3c3c.tmp'));
    await writer.close();
  });
});
