/**
 * The Grafana dashboard and data source (deploy/grafana/) against what `gpumon consume` writes to InfluxDB:
 * every query names measurements, fields and tags that gpumon's sinks write (derived from the sink code and
 * the metric catalog, not a copy), and every query returns data from the real InfluxDB 1.x after gpumon's own
 * stream sink wrote samples there. The InfluxDB comes from GPUMON_TEST_INFLUXDB: without it these tests fail.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { CONFIG_FIELDS } from '../../src/config/schema.ts';
import { METRICS } from '../../src/metrics/catalog.ts';
import { type Point, samplePoint } from '../../src/metrics/line-protocol.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { AlertEvaluator } from '../../src/pipeline/alerts.ts';
import { type GpuWindow, WINDOW_METRICS } from '../../src/pipeline/windows.ts';
import { alertPoint } from '../../src/sinks/influxdb/alert-sink.ts';
import type { InfluxDbOptions } from '../../src/sinks/influxdb/influx-client.ts';
import { InfluxDbStreamSink } from '../../src/sinks/influxdb/stream-sink.ts';
import { windowMeasurement, windowPoint } from '../../src/sinks/influxdb/window-sink.ts';
import { testSample } from '../../src/testing/samples.ts';
import { influxQuery, influxUrl } from '../../src/testing/services.ts';
import { GRAFANA_DIR, parseYamlFile } from './support.ts';

interface Target {
  query?: string;
  rawQuery?: boolean;
  datasource?: { type: string; uid: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query: string | { query: string }; datasource?: { uid: string } }[] };
  annotations: { list: { name: string; query?: string; datasource?: { uid: string } }[] };
}

const config = loadConfig();
const dashboard = JSON.parse(
  readFileSync(join(GRAFANA_DIR, 'dashboards', 'gpumon.json'), 'utf8'),
) as Dashboard;
const datasource = (
  parseYamlFile(join(GRAFANA_DIR, 'provisioning', 'datasources', 'gpumon.yaml'))[0] as {
    datasources: {
      uid: string;
      type: string;
      database?: string;
      jsonData: { dbName?: string; version?: string };
    }[];
  }
).datasources[0];

/** Every query of the dashboard: panel targets, template variables, annotations. */
function queries(): { where: string; query: string }[] {
  const out: { where: string; query: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const [i, t] of (panel.targets ?? []).entries()) {
        out.push({ where: `panel "${panel.title}" target ${i}`, query: t.query ?? '' });
      }
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    out.push({ where: `variable $${v.name}`, query: typeof v.query === 'string' ? v.query : v.query.query });
  }
  for (const a of dashboard.annotations.list) {
    if (a.query) out.push({ where: `annotation "${a.name}"`, query: a.query });
  }
  return out;
}

/** Tags and fields per measurement, from the points gpumon's sinks build for data with every value set. */
function writtenSchema(): Map<string, { tags: Set<string>; fields: Set<string> }> {
  const full = Object.fromEntries(METRICS.map((m) => [m.name, 1])) as Partial<GpuSample>;
  const sample = testSample({ ...full, ts: 0, pci_bus_id: '00000000:01:00.0', driver_version: '550.54.15' });
  const stat = { avg: 1, min: 1, max: 1, count: 1 };
  const window: GpuWindow = {
    start: 0,
    sizeMs: config.stream.windowSeconds * 1000,
    host: sample.host,
    gpu_index: sample.gpu_index,
    uuid: sample.uuid,
    model: sample.model,
    samples: 1,
    stats: Object.fromEntries(WINDOW_METRICS.map((m) => [m, stat])),
  };
  const alert = alertPoint({
    ts: 0,
    rule: 'high_temperature',
    host: sample.host,
    gpu_index: 0,
    uuid: sample.uuid,
    value: 90,
    threshold: 80,
  });
  const schema = new Map<string, { tags: Set<string>; fields: Set<string> }>();
  for (const point of [samplePoint(sample), windowPoint(window), alert] as Point[]) {
    schema.set(point.measurement, {
      tags: new Set(Object.keys(point.tags)),
      fields: new Set(Object.keys(point.fields)),
    });
  }
  return schema;
}

const quoted = (text: string) => [...text.matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);

describe('the Grafana dashboard', () => {
  const schema = writtenSchema();

  it('parses, and has panels of utilization, memory, temperature, power and alerts', () => {
    assert.equal(typeof dashboard.uid, 'string');
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const word of ['utilization', 'memory', 'temperature', 'power', 'alerts']) {
      assert.ok(titles.includes(word), `no ${word} panel: ${titles}`);
    }
    assert.deepEqual(
      dashboard.templating.list.map((v) => v.name),
      ['host', 'gpu'],
    );
  });

  it('reads the three measurements gpumon consume writes, with the default window size', () => {
    assert.equal(windowMeasurement(config.stream.windowSeconds), 'gpu_metrics_30s');
    const used = new Set(
      queries().flatMap(({ query }) => [...query.matchAll(/FROM "([^"]+)"/g)].map((m) => m[1])),
    );
    assert.deepEqual([...used].sort(), [...schema.keys()].sort());
  });

  it('names only fields and tags that exist in the measurement it reads', () => {
    const all = queries();
    assert.ok(all.length >= 12, `${all.length} queries`);
    for (const { where, query } of all) {
      const measurements = [...query.matchAll(/FROM "([^"]+)"/g)].map((m) => m[1] as string);
      assert.equal(measurements.length, 1, `${where}: ${query}`);
      const measurement = measurements[0] as string;
      const known = schema.get(measurement);
      assert.ok(known, `${where}: gpumon writes no ${measurement}`);
      const aliases = new Set([...query.matchAll(/\bAS "([^"]+)"/g)].map((m) => m[1]));
      for (const name of quoted(query)) {
        if (name === measurement || aliases.has(name)) continue;
        assert.ok(
          known.fields.has(name) || known.tags.has(name),
          `${where}: ${measurement} has no "${name}"`,
        );
      }
      for (const name of quoted(/GROUP BY (.*)$/.exec(query)?.[1] ?? '')) {
        assert.ok(known.tags.has(name), `${where}: GROUP BY "${name}", not a tag of ${measurement}`);
      }
      if (query.startsWith('SHOW TAG VALUES')) {
        const key = /WITH KEY = "([^"]+)"/.exec(query)?.[1] ?? '';
        assert.ok(known.tags.has(key), `${where}: ${key} is not a tag`);
      } else {
        assert.match(query, /^SELECT /, where);
        assert.ok(
          quoted(query).some((n) => known.fields.has(n)),
          `${where}: selects no field of ${measurement}`,
        );
      }
    }
  });

  it('uses the provisioned InfluxQL data source, on the database gpumon writes by default', () => {
    assert.ok(datasource);
    assert.equal(datasource.type, 'influxdb');
    assert.notEqual(datasource.jsonData.version, 'Flux');
    assert.equal(datasource.jsonData.dbName, CONFIG_FIELDS['influxdb.database'].default);
    assert.equal(datasource.database, CONFIG_FIELDS['influxdb.database'].default);
    const uids = new Set<string>();
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        if (p.type !== 'row') uids.add(p.datasource?.uid ?? '');
        for (const t of p.targets ?? []) {
          uids.add(t.datasource?.uid ?? '');
          assert.equal(t.rawQuery, true, `${p.title}: the query is ignored without rawQuery`);
        }
        walk(p.panels ?? []);
      }
    };
    walk(dashboard.panels);
    for (const v of [...dashboard.templating.list, ...dashboard.annotations.list])
      uids.add(v.datasource?.uid ?? '');
    assert.deepEqual([...uids], [datasource.uid]);
  });
});

describe('the Grafana dashboard against InfluxDB 1.x with data from gpumon', () => {
  const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
  const MINUTES = 5;
  const T1 = T0 + MINUTES * 60_000;
  let url = '';
  let options: InfluxDbOptions;

  /** 2 hosts x 2 GPUs, one sample a second, every metric set; load climbs past the alert thresholds. */
  function samples(): GpuSample[] {
    const base = Object.fromEntries(
      METRICS.map((m, i) => [m.name, m.type === 'int64' ? (i + 1) * 1000 : i + 0.5]),
    ) as Partial<GpuSample>;
    const out: GpuSample[] = [];
    for (let s = 0; s < MINUTES * 60; s++) {
      for (let i = 0; i < 4; i++) {
        out.push(
          testSample(
            {
              ...base,
              ts: T0 + s * 1000,
              gpu_utilization_percent: (s + i * 10) % 100,
              gpu_temperature_celsius: 60 + ((s * 7 + i) % 30),
              gpu_power_draw_watts: 300 + (s % 100),
              gpu_power_limit_watts: 400,
              gpu_memory_used_bytes: 1024 ** 3 * (1 + (s % 40)),
            },
            i % 2,
            `node-${i >> 1}`,
          ),
        );
      }
    }
    return out;
  }

  before(async () => {
    url = await influxUrl();
    options = {
      ...config.influxdb,
      url,
      database: `gpumon_test_grafana_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
    };
    const sink = new InfluxDbStreamSink(options, {
      windowSeconds: config.stream.windowSeconds,
      alerts: new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000),
    });
    const all = samples();
    for (let i = 0; i < all.length; i += 250) await sink.write(all.slice(i, i + 250));
    await sink.close();
  });

  after(async () => {
    if (url) await influxQuery(url, `DROP DATABASE "${options.database}"`);
  });

  /** A query as Grafana sends it: time range, interval and template variables substituted. */
  function substitute(query: string, host: string, gpu: string): string {
    const text = query
      .replaceAll('$timeFilter', `time >= ${T0}ms and time <= ${T1}ms`)
      .replaceAll('$__interval', '1m')
      .replaceAll('$interval', '1m')
      .replaceAll('$host', host)
      .replaceAll('$gpu', gpu);
    assert.doesNotMatch(text, /\$[\w{]/, `a variable left in ${text}`);
    return text;
  }

  for (const [label, host, gpu] of [
    ['one host and GPU', 'node\\-1', '0'],
    ['All hosts and GPUs', '.*', '.*'],
  ] as const) {
    it(`answers every query with data, for ${label}`, async () => {
      for (const { where, query } of queries()) {
        const q = substitute(query, host, gpu);
        const [result] = await influxQuery(url, q, options.database);
        const series = result?.series ?? [];
        assert.ok(series.length > 0, `${where}: no series for ${q}`);
        const values = series.flatMap((s) => s.values.flatMap((row) => row.slice(1)));
        assert.ok(
          values.some((v) => v !== null && v !== 0),
          `${where}: only nulls or zeros for ${q}`,
        );
        if (label === 'one host and GPU' && !q.startsWith('SHOW')) {
          for (const s of series) if (s.tags?.host) assert.equal(s.tags.host, 'node-1', where);
        }
      }
    });
  }

  it('lists the hosts and GPUs written as the values of the template variables', async () => {
    const tagValues = async (q: string) => {
      const [result] = await influxQuery(url, substitute(q, '.*', '.*'), options.database);
      return (result?.series?.[0]?.values ?? []).map((row) => row[1]).sort();
    };
    const [host, gpu] = dashboard.templating.list.map((v) =>
      typeof v.query === 'string' ? v.query : v.query.query,
    );
    assert.deepEqual(await tagValues(host ?? ''), ['node-0', 'node-1']);
    assert.deepEqual(await tagValues(gpu ?? ''), ['0', '1']);
  });
});
