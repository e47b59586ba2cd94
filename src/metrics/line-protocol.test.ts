import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testSample } from '../testing/samples.ts';
import { METRICS } from './catalog.ts';
import {
  encodePoint,
  escapeKey,
  escapeMeasurement,
  quoteString,
  SAMPLE_MEASUREMENT,
  sampleLine,
  samplePoint,
} from './line-protocol.ts';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);

describe('line protocol of a sample', () => {
  it('gives the exact line for a hand-written sample (golden)', () => {
    const sample = testSample({
      ts: T0,
      gpu_utilization_percent: 71.5,
      gpu_memory_used_bytes: 34_359_738_368,
      gpu_temperature_celsius: 64,
      gpu_power_draw_watts: 312.25,
      gpu_performance_state: 0,
      driver_version: '550.54.15',
    });
    assert.equal(
      sampleLine(sample),
      'gpu_metrics,gpu=0,host=node-1,model=NVIDIA\\ H100\\ 80GB\\ HBM3,uuid=GPU-node-1-0 ' +
        'utilization_gpu=71.5,memory_used_bytes=34359738368i,temperature_gpu=64,power_draw_watts=312.25,' +
        'pstate=0i,driver_version="550.54.15" 1795600800000',
    );
  });

  it('builds the same line as the general encoder, for every kind of sample', () => {
    const all = Object.fromEntries(METRICS.map((m, i) => [m.name, m.type === 'int64' ? i * 1000 : i + 0.25]));
    for (const sample of [
      testSample({ ts: T0, ...all, pci_bus_id: '00000000:3B:00.0', driver_version: 'a "b" \\c' }),
      testSample({
        ts: T0,
        gpu_temperature_celsius: Number.NaN,
        gpu_memory_used_bytes: 2 ** 60,
        gpu_xid_last: 0,
      }),
      testSample({ ts: T0, host: 'rack 1,a=b', model: 'x\\', gpu_fan_speed_percent: 1e-9 }, 3),
      testSample({ ts: T0 }),
    ]) {
      assert.equal(sampleLine(sample), encodePoint(samplePoint(sample)));
    }
  });

  it('writes every catalog metric under its influx name, int64 with the i suffix', () => {
    const values = Object.fromEntries(METRICS.map((m) => [m.name, 7]));
    const line = sampleLine(testSample({ ts: T0, ...values })) ?? '';
    for (const m of METRICS)
      assert.ok(line.includes(`${m.influx}=7${m.type === 'int64' ? 'i' : ''}`), m.name);
  });

  it('leaves null metrics out, and a sample with no value at all has no line', () => {
    const line = sampleLine(testSample({ ts: T0, gpu_temperature_celsius: 40 }));
    assert.match(line ?? '', / temperature_gpu=40 \d+$/);
    assert.equal(sampleLine(testSample({ ts: T0 })), null);
  });

  it('escapes a nasty model name in the tag: NVIDIA "A100", SXM=4', () => {
    const line = sampleLine(
      testSample({ ts: T0, model: 'NVIDIA "A100", SXM=4', gpu_temperature_celsius: 1 }),
    );
    assert.match(line ?? '', /,model=NVIDIA\\ "A100"\\,\\ SXM\\=4,/);
  });

  it('writes floats in a form InfluxDB reads back exactly', () => {
    const line = encodePoint({
      measurement: 'm',
      tags: {},
      fields: {
        a: { type: 'float', value: 1e21 },
        b: { type: 'float', value: 1e-7 },
        c: { type: 'float', value: 0.1 },
      },
      ts: 1,
    });
    assert.equal(line, 'm a=1e+21,b=1e-7,c=0.1 1');
  });

  it('leaves out values InfluxDB cannot store (NaN, infinities, integers past 2^53) and empty tags', () => {
    const line = encodePoint({
      measurement: 'm',
      tags: { empty: '', none: null, host: 'h' },
      fields: {
        nan: { type: 'float', value: Number.NaN },
        inf: { type: 'float', value: Number.POSITIVE_INFINITY },
        big: { type: 'integer', value: 2 ** 60 },
        ok: { type: 'boolean', value: true },
      },
      ts: 5,
    });
    assert.equal(line, 'm,host=h ok=true 5');
  });

  it('sorts tags by key, as InfluxDB indexes them', () => {
    const line = encodePoint({
      measurement: 'm',
      tags: { z: '1', a: '2', m: '3' },
      fields: { f: { type: 'integer', value: 1 } },
      ts: 0,
    });
    assert.equal(line, 'm,a=2,m=3,z=1 f=1i 0');
  });
});

describe('line protocol escaping', () => {
  it('escapes commas and spaces in measurements, but not equals signs', () => {
    assert.equal(escapeMeasurement('gpu metrics,v=2'), 'gpu\\ metrics\\,v=2');
    assert.equal(SAMPLE_MEASUREMENT, escapeMeasurement(SAMPLE_MEASUREMENT));
  });

  it('escapes commas, equals signs and spaces in tag keys, tag values and field keys', () => {
    assert.equal(escapeKey('a b,c=d'), 'a\\ b\\,c\\=d');
  });

  it('keeps a backslash inside a tag value, drops one that InfluxDB 1.x cannot parse (at the end, before an escape)', () => {
    assert.equal(escapeKey('C:\\gpu'), 'C:\\gpu');
    assert.equal(escapeKey('C:\\'), 'C:');
    assert.equal(escapeKey('a\\ b'), 'a\\ b');
  });

  it('writes line breaks in keys as the two characters \\n, since a line cannot hold them', () => {
    assert.equal(escapeKey('a\nb\r'), 'a\\nb\\r');
  });

  it('quotes string field values, escaping double quotes and backslashes', () => {
    assert.equal(quoteString('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
  });
});
