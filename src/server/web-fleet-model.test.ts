import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { aggregate, type GpuRow, groupByHost, stateOf } from '../../web/fleet-model.ts';
import { formatRoute, parseRoute } from '../../web/route.ts';
import { SeriesBuffer } from '../../web/series-buffer.ts';
import { alignedData, niceMax, timeTicks } from '../../web/time-chart.ts';
import { displayUnit, formatValue, unitsOf } from '../../web/units.ts';
import type { MetricName } from '../metrics/catalog.ts';
import { nullIdentity } from '../metrics/sample.ts';

const GIB = 1024 ** 3;
const calm = { temperature: false, load: false, power: false };

function row(
  host: string,
  index: number,
  values: Partial<Record<MetricName, number | null>>,
  alerts = calm,
): GpuRow {
  return {
    id: {
      ...nullIdentity(),
      host,
      gpu_index: index,
      uuid: `GPU-${host}-${index}`,
      model: index % 2 ? 'A100' : 'H100',
      pci_bus_id: '',
      driver_version: '',
    },
    ts: 1,
    value: (name) => values[name] ?? null,
    alerts,
  };
}

describe('the fleet model of the page', () => {
  test('a GPU is busy from 5 % utilization, idle below, and idle holding memory above 1 GiB in use', () => {
    assert.equal(stateOf(row('a', 0, { gpu_utilization_percent: 5 })), 'busy');
    assert.equal(stateOf(row('a', 0, { gpu_utilization_percent: 4, gpu_memory_used_bytes: GIB })), 'idle');
    assert.equal(
      stateOf(row('a', 0, { gpu_utilization_percent: 4, gpu_memory_used_bytes: 2 * GIB })),
      'holding',
    );
    assert.equal(stateOf(row('a', 0, {})), 'unknown');
  });

  test('a GPU with any alert firing is alerting, whatever its load', () => {
    assert.equal(
      stateOf(row('a', 0, { gpu_utilization_percent: 0 }, { ...calm, temperature: true })),
      'alerting',
    );
  });

  test("the server's idle thresholds decide idle and holding memory", () => {
    const idle = { loadPercent: 30, memoryBytes: 8 * GIB };
    const at = (util: number, used: number) =>
      stateOf(row('a', 0, { gpu_utilization_percent: util, gpu_memory_used_bytes: used }), idle);
    assert.deepEqual([at(29, 8 * GIB), at(29, 9 * GIB), at(30, 0)], ['idle', 'holding', 'busy']);
    assert.equal(aggregate([row('a', 0, { gpu_utilization_percent: 20 })], idle).states.idle, 1);
  });

  test('aggregates count states and hosts, average utilization over the GPUs that report it, and sum power', () => {
    const agg = aggregate([
      row('a', 0, { gpu_utilization_percent: 90, gpu_power_draw_watts: 600 }),
      row('a', 1, { gpu_utilization_percent: 0, gpu_memory_used_bytes: 4 * GIB, gpu_power_draw_watts: 80 }),
      row('b', 0, { gpu_utilization_percent: 30 }, { ...calm, load: true, power: true }),
      row('b', 1, {}),
    ]);
    assert.deepEqual(agg, {
      gpus: 4,
      hosts: 2,
      meanUtilization: 40,
      states: { alerting: 1, busy: 1, holding: 1, idle: 0, unknown: 1 },
      powerWatts: 680,
      alertsFiring: 2,
    });
  });

  test('no reading gives no mean and no power, not zero', () => {
    const agg = aggregate([row('a', 0, {})]);
    assert.equal(agg.meanUtilization, null);
    assert.equal(agg.powerWatts, null);
  });

  test('groups by host in name order, sorted by a metric highest first with no reading last', () => {
    const rows = [
      row('b', 0, { gpu_utilization_percent: 10 }),
      row('a', 0, { gpu_utilization_percent: 20 }),
      row('a', 1, {}),
      row('a', 2, { gpu_utilization_percent: 70 }),
    ];
    const groups = groupByHost(rows, { host: null, model: null, state: null }, 'utilization');
    assert.deepEqual(
      groups.map((g) => [g.host, g.rows.map((r) => r.id.gpu_index)]),
      [
        ['a', [2, 0, 1]],
        ['b', [0]],
      ],
    );
  });

  test('filters by host, model and state together', () => {
    const rows = [row('a', 0, { gpu_utilization_percent: 50 }), row('a', 1, { gpu_utilization_percent: 50 })];
    const only = groupByHost(rows, { host: 'a', model: 'A100', state: 'busy' }, 'host');
    assert.deepEqual(
      only.flatMap((g) => g.rows.map((r) => r.id.uuid)),
      ['GPU-a-1'],
    );
    assert.deepEqual(groupByHost(rows, { host: 'b', model: null, state: null }, 'host'), []);
  });
});

describe('the address of a view', () => {
  test('a filtered, sorted fleet goes to the hash and back', () => {
    const route = {
      view: 'fleet' as const,
      filter: { host: 'node a', model: 'H100', state: 'holding' as const },
      sort: 'power' as const,
    };
    assert.equal(formatRoute(route), '#host=node+a&model=H100&state=holding&sort=power');
    assert.deepEqual(parseRoute(formatRoute(route)), route);
  });

  test("a GPU's detail is #gpu=<uuid>", () => {
    assert.equal(formatRoute({ view: 'gpu', uuid: 'GPU-1/2', range: { name: '15m' } }), '#gpu=GPU-1%2F2');
    assert.deepEqual(parseRoute('#gpu=GPU-1%2F2'), { view: 'gpu', uuid: 'GPU-1/2', range: { name: '15m' } });
  });

  test('an unknown state or sort in a shared link falls back to all states in host order', () => {
    assert.deepEqual(parseRoute('#state=sleeping&sort=random'), {
      view: 'fleet',
      filter: { host: null, model: null, state: null },
      sort: 'host',
    });
    assert.equal(formatRoute(parseRoute('')), '#');
  });
});

describe('units on the page', () => {
  test('catalog units are shown as people read them, bytes in GiB', () => {
    const units = unitsOf([
      { name: 'gpu_memory_used_bytes', unit: 'bytes', kind: 'gauge', help: '' },
      { name: 'gpu_temperature_celsius', unit: 'celsius', kind: 'gauge', help: '' },
    ]);
    assert.equal(formatValue(40 * GIB, units.get('gpu_memory_used_bytes') ?? displayUnit('')), '40.0 GiB');
    assert.equal(formatValue(61.4, units.get('gpu_temperature_celsius') ?? displayUnit('')), '61 °C');
    assert.equal(formatValue(null, displayUnit('watts')), '—');
  });

  test('an unknown unit is shown as the catalog names it', () => {
    assert.equal(formatValue(3, displayUnit('xid')), '3.00 xid');
  });

  test('the top of a value axis is 1, 2 or 5 times a power of ten', () => {
    assert.deepEqual(
      [niceMax(0), niceMax(7), niceMax(130), niceMax(700), niceMax(2000)],
      [1, 10, 200, 1000, 2000],
    );
  });

  test('time ticks are 24-hour local time, with seconds over short spans and the date over long ones', () => {
    const t = new Date(2026, 11, 6, 20, 5, 9).getTime();
    assert.deepEqual(timeTicks([t], 60_000), ['20:05:09']);
    assert.deepEqual(timeTicks([t], 3_600_000), ['20:05']);
    assert.deepEqual(timeTicks([t], 7 * 86_400_000), ['12-06 20:05']);
  });

  test("a chart's lines share one time column, a late sample a gap in its line, a time of one line none in another", () => {
    const used = new SeriesBuffer(10, 1000);
    const total = new SeriesBuffer(10, 1000);
    for (const [t, v] of [
      [1000, 1],
      [2000, 2],
      [5000, 5],
    ] as const)
      used.push(t, v * GIB);
    for (const t of [1000, 2000, 2500]) total.push(t, 80 * GIB);
    const [ts, usedGib, totalGib] = alignedData([used, total], 1 / GIB);
    assert.deepEqual(ts, [1000, 2000, 2500, 3000, 5000]);
    assert.deepEqual(usedGib, [1, 2, undefined, null, 5]);
    assert.deepEqual(totalGib, [80, 80, 80, undefined, undefined]);
  });
});
