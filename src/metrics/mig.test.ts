import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { decodeSeries } from '../live/influxdb/sample-decoder.ts';
import { readArchiveSamples } from '../sinks/archive/archive-reader.ts';
import { LocalStorage } from '../sinks/archive/local-storage.ts';
import { ParquetWriter } from '../sinks/archive/parquet-writer.ts';
import { testSample } from '../testing/samples.ts';
import { decodeSample, encodeSampleJson } from '../transport/kafka/encoding.ts';
import { decodeRecordWithLines } from '../transport/kafka/line-decoder.ts';
import { ENCODED_LINE, type SampleWithLine, sampleLine, samplePoint } from './line-protocol.ts';
import { legacyMigUuid, migId, migModel, migProfile } from './mig.ts';
import { type GpuSample, parseSample, SAMPLE_COLUMNS } from './sample.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const GPU = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';
const MIG = 'MIG-aaaaaaaa-0000-0000-0000-000000000000';
const TS = Date.UTC(2026, 0, 2, 3, 4, 5);

/** A MIG instance as the nvidia-smi XML parser makes it of the A100 535 capture (parse-xml-mig.test.ts). */
function migSample(overrides: Partial<GpuSample> = {}): GpuSample {
  return testSample({
    ts: TS,
    uuid: MIG,
    model: 'NVIDIA A100-SXM4-80GB MIG 1g.20gb',
    driver_version: '535.54.03',
    parent_uuid: GPU,
    mig_gpu_instance_id: 3,
    mig_compute_instance_id: 0,
    gpu_memory_total_bytes: 19968 * 2 ** 20,
    gpu_memory_used_bytes: 12 * 2 ** 20,
    ...overrides,
  });
}

describe('MIG naming', () => {
  test('the name drivers before 470 give a MIG device, with or without its compute instance', () => {
    assert.equal(legacyMigUuid(GPU, 3, 0), `MIG-${GPU}/3/0`);
    assert.equal(legacyMigUuid(GPU, 9, null), `MIG-${GPU}/9`);
  });

  test('the model of an instance is its GPU model and its profile, and the profile is read back from it', () => {
    assert.equal(migModel('NVIDIA H100 80GB HBM3', '1g.10gb'), 'NVIDIA H100 80GB HBM3 MIG 1g.10gb');
    assert.equal(migModel('NVIDIA H100 80GB HBM3', null), 'NVIDIA H100 80GB HBM3 MIG');
    assert.equal(migProfile('NVIDIA H100 80GB HBM3 MIG 1g.10gb'), '1g.10gb');
    assert.equal(migProfile('NVIDIA H100 80GB HBM3'), null);
  });

  test('instance ids are small non-negative integers, anything else null', () => {
    assert.deepEqual(['3', ' 0 ', 'N/A', '-1', '70000', '', undefined, null].map(migId), [
      3,
      0,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });
});

describe('a MIG instance sample goes through every encoding as a device of its own', () => {
  test('parseSample takes its ids, and refuses ids that are not small integers', () => {
    assert.equal(parseSample(structuredClone(migSample())).mig_gpu_instance_id, 3);
    assert.equal(parseSample(structuredClone(testSample({ ts: TS }))).mig_gpu_instance_id, null);
    assert.throws(
      () => parseSample({ ...migSample(), mig_gpu_instance_id: '3' }),
      /field mig_gpu_instance_id: expected an integer/,
    );
    assert.throws(
      () => parseSample({ ...migSample(), mig_compute_instance_id: -1 }),
      /field mig_compute_instance_id: expected an integer/,
    );
    assert.throws(() => parseSample({ ...migSample(), parent_uuid: '' }), /field parent_uuid/);
  });

  test('a record of wire version 1 decodes as a whole GPU: the MIG fields null', () => {
    const v1 = readFileSync(new URL('../transport/kafka/testdata/sample-v1.json', import.meta.url), 'utf8');
    const decoded = decodeSample(Buffer.from(v1.trim()));
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.deepEqual(
      [
        decoded.sample.parent_uuid,
        decoded.sample.mig_gpu_instance_id,
        decoded.sample.mig_compute_instance_id,
      ],
      [null, null, null],
    );
  });

  test('the v2 wire example carries the MIG fields', () => {
    const v2 = JSON.parse(
      readFileSync(new URL('../transport/kafka/testdata/sample-v2.json', import.meta.url), 'utf8'),
    );
    for (const key of ['parent_uuid', 'mig_gpu_instance_id', 'mig_compute_instance_id'])
      assert.ok(key in v2, key);
  });

  test('line protocol: the GPU instance ids and parent as fields of its own series, the same line from the Kafka fast path', () => {
    const sample = migSample();
    const line = sampleLine(sample) ?? '';
    assert.match(
      line,
      new RegExp(
        `^gpu_metrics,gpu=0,host=node-1,model=NVIDIA\\\\ A100-SXM4-80GB\\\\ MIG\\\\ 1g\\.20gb,uuid=${MIG} `,
      ),
    );
    assert.match(line, new RegExp(`parent_uuid="${GPU}"`));
    assert.match(line, /mig_gpu_instance_id="3",mig_compute_instance_id="0"/);
    // In the producer's layout (catalog order), which the fast path takes.
    const inOrder = Object.fromEntries(SAMPLE_COLUMNS.map((c) => [c, sample[c as keyof GpuSample]]));
    const record = Buffer.from(encodeSampleJson(inOrder as unknown as GpuSample));
    const fast = decodeRecordWithLines(record);
    assert.ok(fast.ok);
    const [decoded] = fast.samples;
    assert.ok(decoded !== undefined && ENCODED_LINE in decoded, 'taken by the fast path');
    const encoded = (decoded as SampleWithLine)[ENCODED_LINE];
    assert.equal(encoded === undefined ? undefined : Buffer.from(encoded).toString('utf8'), line);
    assert.deepEqual(Object.fromEntries(Object.entries(decoded)), parseSample(structuredClone(sample)));
  });

  test('InfluxDB: the rows read back from the live query are the same sample', () => {
    const sample = migSample();
    const point = samplePoint(sample);
    const columns = ['time', ...Object.keys(point.fields)];
    const row = [sample.ts, ...Object.values(point.fields).map((f) => f?.value ?? null)];
    const tags = Object.fromEntries(
      Object.entries(point.tags).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    const decoded = decodeSeries([{ name: 'gpu_metrics', tags, columns, values: [row] }]);
    assert.equal(decoded.invalid, 0, String(decoded.firstInvalid));
    assert.deepEqual(decoded.samples[0], parseSample(structuredClone(sample)));
  });

  test('Parquet archive: a GPU and its MIG instance are written and read back as two devices', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpumon-mig-archive-'));
    dirs.push(dir);
    const storage = new LocalStorage(dir);
    const gpu = testSample({
      ts: TS,
      uuid: GPU,
      model: 'NVIDIA A100-SXM4-80GB',
      gpu_temperature_celsius: 27,
    });
    const writer = new ParquetWriter({ storage });
    try {
      await writer.writeSamples([gpu, migSample()]);
    } finally {
      await writer.close();
    }
    const read = await readArchiveSamples(storage, '2026-01-02');
    const byUuid = new Map(read.map((s) => [s.uuid, s]));
    assert.deepEqual(byUuid.get(MIG), parseSample(structuredClone(migSample())));
    assert.equal(byUuid.get(GPU)?.parent_uuid, null);
    assert.equal(byUuid.get(GPU)?.mig_gpu_instance_id, null);
    assert.equal(byUuid.get(GPU)?.gpu_temperature_celsius, 27);
  });

  test('Parquet archive: a file written before the MIG columns reads them as NULL beside a newer one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpumon-mig-archive-'));
    dirs.push(dir);
    const storage = new LocalStorage(dir);
    const writer = new ParquetWriter({ storage });
    let old: string[];
    try {
      old = await writer.writeSamples([testSample({ ts: TS, uuid: GPU, gpu_temperature_celsius: 27 })]);
      await writer.writeSamples([migSample()]);
    } finally {
      await writer.close();
    }
    // The first file as an older gpumon wrote it: without the three MIG columns.
    const file = await storage.localPath(old[0] as string);
    const db = await DuckDBInstance.create(':memory:');
    try {
      const connection = await db.connect();
      await connection.run(
        `COPY (SELECT * EXCLUDE (parent_uuid, mig_gpu_instance_id, mig_compute_instance_id) FROM read_parquet('${file}')) TO '${file}.old.parquet' (FORMAT parquet)`,
      );
    } finally {
      db.closeSync();
    }
    await rename(`${file}.old.parquet`, file);
    const read = await readArchiveSamples(storage, '2026-01-02');
    assert.deepEqual(
      read
        .map((s) => [s.uuid, s.parent_uuid, s.mig_gpu_instance_id, s.mig_compute_instance_id])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        [GPU, null, null, null], // GPU-... sorts before MIG-...
        [MIG, GPU, 3, 0],
      ],
    );
  });
});
