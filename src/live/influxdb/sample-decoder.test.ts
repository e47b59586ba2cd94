import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGpumonError } from '../../errors.ts';
import { IDENTITY, METRICS } from '../../metrics/catalog.ts';
import { nullIdentity, nullMetrics } from '../../metrics/sample.ts';
import { decodeSeries, GROUP_BY_TAGS, SAMPLE_FIELDS, seriesOf } from './sample-decoder.ts';

/** An answer of /query as InfluxDB 1.x gives it for one GPU grouped by its tags (epoch=ms). */
function answer(columns: string[], values: unknown[][], tags: Record<string, string> = TAGS): unknown[] {
  return [{ statement_id: 0, series: [{ name: 'gpu_metrics', tags, columns, values }] }];
}

const TAGS = { gpu: '3', host: 'node-7', model: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-aaaa-3' };

describe('the InfluxDB sample decoder', () => {
  it('selects every metric by its influx field name and groups by the identity tags, from the catalog', () => {
    for (const m of METRICS) assert.ok(SAMPLE_FIELDS.includes(m.influx), m.influx);
    assert.ok(SAMPLE_FIELDS.includes('pci_bus_id') && SAMPLE_FIELDS.includes('driver_version'));
    assert.deepEqual(
      GROUP_BY_TAGS,
      IDENTITY.filter((i) => i.influxTag !== '')
        .map((i) => i.influxTag)
        .sort(),
    );
  });

  it('turns a row back into the sample: tags to identity, fields to metrics, time to ts', () => {
    const decoded = decodeSeries(
      seriesOf(
        answer(
          [
            'time',
            'utilization_gpu',
            'memory_used_bytes',
            'temperature_gpu',
            'pstate',
            'driver_version',
            'pci_bus_id',
          ],
          [[1795600800000, 71.5, 34359738368, 64, 0, '550.54.15', '00000000:3B:00.0']],
        ),
        'test',
      ),
    );
    assert.equal(decoded.invalid, 0);
    assert.deepEqual(decoded.samples, [
      {
        ...nullMetrics(),
        ...nullIdentity(),
        ts: 1795600800000,
        host: 'node-7',
        gpu_index: 3,
        uuid: 'GPU-aaaa-3',
        model: 'NVIDIA H100 80GB HBM3',
        pci_bus_id: '00000000:3B:00.0',
        driver_version: '550.54.15',
        gpu_utilization_percent: 71.5,
        gpu_memory_used_bytes: 34359738368,
        gpu_temperature_celsius: 64,
        gpu_performance_state: 0,
      },
    ]);
  });

  it('keeps a null a null: a field absent from the row, or from the whole series, is null, never 0', () => {
    const decoded = decodeSeries(
      seriesOf(
        answer(
          ['time', 'utilization_gpu', 'fan_speed_percent'],
          [
            [1000, null, 30],
            [2000, 12, null],
          ],
        ),
        'test',
      ),
    );
    const [a, b] = decoded.samples;
    assert.equal(a?.gpu_utilization_percent, null);
    assert.equal(a?.gpu_fan_speed_percent, 30);
    assert.equal(b?.gpu_fan_speed_percent, null);
    assert.equal(b?.gpu_power_draw_watts, null, 'a metric without a column');
    assert.equal(b?.driver_version, null);
  });

  it('counts the series, so that a page of SLIMIT n with fewer is known to be the last', () => {
    const two = [
      {
        statement_id: 0,
        series: [
          { name: 'gpu_metrics', tags: TAGS, columns: ['time', 'temperature_gpu'], values: [[1, 50]] },
          {
            name: 'gpu_metrics',
            tags: { ...TAGS, gpu: '4', uuid: 'GPU-aaaa-4' },
            columns: ['time', 'temperature_gpu'],
            values: [[1, 51]],
          },
        ],
      },
    ];
    const decoded = decodeSeries(seriesOf(two, 'test'));
    assert.equal(decoded.series, 2);
    assert.deepEqual(
      decoded.samples.map((s) => [s.gpu_index, s.gpu_temperature_celsius]),
      [
        [3, 50],
        [4, 51],
      ],
    );
  });

  it('reads an empty answer (no series: nothing in the window) as no samples', () => {
    const decoded = decodeSeries(seriesOf([{ statement_id: 0 }], 'test'));
    assert.deepEqual(decoded, { samples: [], series: 0, invalid: 0, firstInvalid: null });
  });

  it('ignores a field the catalog does not know (written by something else)', () => {
    const decoded = decodeSeries(
      seriesOf(answer(['time', 'temperature_gpu', 'someone_elses'], [[5, 40, 'x']]), 'test'),
    );
    assert.equal(decoded.invalid, 0);
    assert.equal(decoded.samples[0]?.gpu_temperature_celsius, 40);
    assert.ok(!('someone_elses' in (decoded.samples[0] ?? {})));
  });

  it('skips and counts rows that are not valid samples, naming the series and time of the first', () => {
    const decoded = decodeSeries(
      seriesOf(
        answer(
          ['time', 'temperature_gpu', 'utilization_gpu'],
          [
            [1000, 400, 10], // beyond the catalog's 150 °C
            [2000, 'hot', 10], // a string where a number belongs (a field type conflict)
            [3000, 60, 10],
            [null, 60, 10], // no time
          ],
        ),
        'test',
      ),
    );
    assert.equal(decoded.invalid, 3);
    assert.deepEqual(
      decoded.samples.map((s) => s.ts),
      [3000],
    );
    assert.ok(isGpumonError(decoded.firstInvalid, 'SAMPLE_INVALID'));
    assert.match(decoded.firstInvalid?.message ?? '', /GPU-aaaa-3.*at 1000.*gpu_temperature_celsius/);
  });

  it('refuses a series without its identity tags, and a gpu tag that is not an index', () => {
    const { uuid: _, ...noUuid } = TAGS;
    const missing = decodeSeries(seriesOf(answer(['time', 'temperature_gpu'], [[1, 50]], noUuid), 'test'));
    assert.equal(missing.invalid, 1);
    assert.match(missing.firstInvalid?.message ?? '', /field uuid: missing/);
    const badIndex = decodeSeries(
      seriesOf(answer(['time', 'temperature_gpu'], [[1, 50]], { ...TAGS, gpu: 'x' }), 'test'),
    );
    assert.equal(badIndex.invalid, 1);
    assert.match(badIndex.firstInvalid?.message ?? '', /field gpu_index/);
  });

  it('refuses an answer that is not a query result with LIVE_READ_FAILED', () => {
    for (const bad of [
      ['<html>'],
      [{ series: 'x' }],
      [{ series: [{ columns: ['time'] }] }],
      [{ series: [{ columns: [], values: [], tags: 'a' }] }],
    ]) {
      assert.throws(
        () => seriesOf(bad, 'InfluxDB http://x:8086'),
        (err) =>
          isGpumonError(err, 'LIVE_READ_FAILED') &&
          /http:\/\/x:8086: not an InfluxQL query result/.test(err.message),
      );
    }
  });
});
