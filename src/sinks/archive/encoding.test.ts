import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRICS } from '../../metrics/catalog.ts';
import { ColumnScales, copyOptions, fileEncoding, MAX_SCALE, scaleOf } from './encoding.ts';
import { partFileName, schemaTagOf } from './layout.ts';

const column = (name: string) => METRICS.findIndex((m) => m.name === name);

describe('the decimal places a value needs', () => {
  test('are the fewest that give the same double back', () => {
    assert.equal(scaleOf(42), 0);
    assert.equal(scaleOf(-40), 0);
    assert.equal(scaleOf(123.45), 2);
    assert.equal(scaleOf(314_159.265), 3);
    assert.equal(scaleOf(0.000_000_001), MAX_SCALE);
  });

  test('are none (a DOUBLE) for a value no decimal of up to MAX_SCALE places carries', () => {
    assert.equal(scaleOf(0.1 + 0.2), -1);
    assert.equal(scaleOf(1 / 3), -1);
    assert.equal(scaleOf(5e-324), -1);
    assert.equal(scaleOf(1e300), -1, 'too large for a 64-bit decimal');
    assert.equal(scaleOf(2 ** 53 + 2), -1, 'beyond the integers a double holds exactly');
    assert.equal(scaleOf(-0), -1, 'a decimal has no negative zero');
    assert.equal(scaleOf(Number.POSITIVE_INFINITY), -1);
  });
});

describe('a file of float64 metrics', () => {
  test('takes per column the most places any value needed, nulls aside, and a DOUBLE once one does not fit', () => {
    const scales = new ColumnScales();
    const power = column('gpu_power_draw_watts');
    const energy = column('gpu_energy_joules_total');
    const util = column('gpu_utilization_percent');
    scales.note(power, Float64Array.of(100, 123.4, Number.NaN), 3);
    scales.note(power, Float64Array.of(99.99), 1);
    scales.note(energy, Float64Array.of(1_000.001, 1 / 3, 2.5), 3);
    scales.note(util, Float64Array.of(Number.NaN, Number.NaN), 2);
    const { types, version2, tag } = scales.layout();
    assert.equal(types[power], 'DECIMAL(9,2)', 'up to 5000 W in hundredths: 32 bits');
    assert.equal(types[energy], 'DOUBLE');
    assert.equal(types[util], 'DECIMAL(9,0)', 'a column of nulls only');
    const pcie = column('gpu_pcie_rx_bytes_per_second');
    assert.equal(fileEncoding(METRICS.map(() => 0)).types[pcie], 'DECIMAL(18,0)', 'up to 1e12 B/s: 64 bits');
    assert.equal(
      fileEncoding(METRICS.map(() => 7)).types[power],
      'DECIMAL(18,7)',
      '5000 W to 7 places: 64 bits',
    );
    assert.equal(types[column('gpu_memory_used_bytes')], 'BIGINT', 'int64 metrics as the catalog says');
    assert.equal(
      version2,
      false,
      'a DOUBLE left: version 1 encodings (Spark 4.0 reads no BYTE_STREAM_SPLIT)',
    );
    assert.match(tag ?? '', /^[0-9a-f]{10}$/);
    assert.doesNotMatch(copyOptions(scales.layout(), 1000), /V2/);
  });

  test('with every float64 metric a decimal is written with version 2 encodings', () => {
    const encoding = fileEncoding(METRICS.map(() => 1));
    assert.equal(encoding.version2, true);
    assert.match(copyOptions(encoding, 4096), /PARQUET_VERSION V2/);
    assert.match(copyOptions(encoding, 4096), /ROW_GROUP_SIZE 4096/);
  });

  test('has one schema tag per set of column types, and none where every metric has its catalog type', () => {
    const a = fileEncoding(METRICS.map(() => 2)).tag;
    assert.equal(fileEncoding(METRICS.map(() => 2)).tag, a);
    assert.notEqual(fileEncoding(METRICS.map(() => 3)).tag, a);
    assert.equal(fileEncoding(METRICS.map(() => -1)).tag, null);
  });

  test('names its schema tag in the file name, where readers find it', () => {
    assert.equal(schemaTagOf(partFileName(1, 'abc123def0')), 'abc123def0');
    assert.equal(schemaTagOf(`hdfs://nn:8020/a/${partFileName(1, 'abc123def0')}`), 'abc123def0');
    assert.equal(schemaTagOf(partFileName(1)), null);
    assert.equal(schemaTagOf('part-1-2-3-abc.parquet.tmp'), null);
  });
});
