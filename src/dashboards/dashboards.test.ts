import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { METRICS } from '../metrics/catalog.ts';
import { DASHBOARDS_DIR, dashboards, render } from './generate.ts';
import type { Panel } from './grafana.ts';
import { comparedMetrics } from './idle-load.ts';
import { grafanaUnit, KNOWN_UNITS, resultField } from './influxql.ts';
import { metricPanels } from './realtime.ts';

const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);

describe('the Grafana dashboards generated from src/dashboards', () => {
  it('are committed as generated: run `npm run dashboards` after changing the generator or the catalog', () => {
    const generated = dashboards();
    const files = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));
    assert.deepEqual(
      files.sort(),
      Object.keys(generated).sort(),
      'a dashboard file the generator does not write',
    );
    for (const [file, d] of Object.entries(generated)) {
      assert.equal(
        readFileSync(join(DASHBOARDS_DIR, file), 'utf8'),
        render(d),
        `${file} drifted: npm run dashboards`,
      );
    }
  });

  it('show every metric of the catalog on the real-time dashboard, by its InfluxDB field', () => {
    const { placed } = metricPanels();
    assert.deepEqual([...placed.keys()].sort(), METRICS.map((m) => m.name).sort());
    const queries = flat(dashboards()['gpumon.json']?.panels ?? [])
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.query)
      .join('\n');
    for (const m of METRICS)
      assert.ok(queries.includes(`"${m.influx}"`), `${m.name} (${m.influx}) is on no panel`);
  });

  it('give every unit of the catalog a Grafana unit, and a unit it does not know none', () => {
    for (const m of METRICS)
      assert.ok(KNOWN_UNITS.includes(m.unit), `${m.name}: add a Grafana unit for ${m.unit}`);
    assert.equal(grafanaUnit(METRICS[0]), 'percent');
    assert.equal(grafanaUnit({ ...METRICS[0], unit: 'furlongs' }), 'none');
  });

  it('refuse an analytics field that the daily results do not write', () => {
    assert.equal(resultField('gpu_daily_stats', 'energy_kwh'), '"energy_kwh"');
    assert.throws(
      () => resultField('gpu_daily_stats', 'load_p999_percent'),
      /gpu_daily_stats has no field load_p999_percent/,
    );
    assert.throws(() => resultField('gpu_nothing', 'x'), /no analytics measurement gpu_nothing/);
  });

  it('compare temperatures, power draw and clocks when idle and under load', () => {
    const names = comparedMetrics().map((m) => m.name);
    for (const n of ['gpu_temperature_celsius', 'gpu_power_draw_watts', 'gpu_sm_clock_mhz'])
      assert.ok(names.includes(n), n);
    const titles = flat(dashboards()['gpumon-idle-load.json']?.panels ?? []).map((p) => p.title);
    for (const n of names) {
      assert.ok(titles.includes(`${n} when idle`) && titles.includes(`${n} under load`), n);
    }
  });

  it('give each panel a unique id and a place inside the 24 columns', () => {
    for (const [file, d] of Object.entries(dashboards())) {
      const panels = flat(d.panels);
      assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, file);
      for (const p of panels) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${file} ${p.title}`);
    }
  });
});
