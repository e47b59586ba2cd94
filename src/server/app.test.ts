import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveState } from '../pipeline/live-state.ts';
import type {
  AlertsResponse,
  AnalyticsDatesResponse,
  AnalyticsResultResponse,
  AnalyticsSummaryResponse,
  ApiErrorBody,
  CatalogResponse,
  GpusResponse,
  HealthResponse,
  RunsResponse,
  SeriesResponse,
} from './api-types.ts';
import { createApp } from './app.ts';
import type { ResultsApi, RunsApi } from './deps.ts';
import { depsOf, sampleOf } from './test-support.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const MIN = 60_000;

function fleet(): LiveState {
  const live = new LiveState(60 * MIN);
  for (let i = 0; i < 10; i++) {
    const ts = NOW - (9 - i) * 2 * MIN;
    live.apply([
      sampleOf('node-b', 0, ts, { gpu_utilization_percent: 10 * i, gpu_temperature_celsius: 40 + i }),
      sampleOf('node-a', 1, ts, { gpu_utilization_percent: 50 }),
      sampleOf('node-a', 0, ts, { gpu_utilization_percent: 20 }),
    ]);
  }
  return live;
}

function appOf(live = fleet(), extra: Parameters<typeof depsOf>[1] = {}) {
  return createApp(depsOf(live, extra), { now: () => NOW, sampleIntervalMs: 2 * MIN });
}

async function errorOf(res: Response, status: number): Promise<ApiErrorBody['error']> {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const error = ((await res.json()) as ApiErrorBody).error;
  assert.equal(error.requestId, res.headers.get('x-request-id'));
  return error;
}

/** A POST as the page sends it: JSON. */
const POST_JSON = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' };

describe('GET /metrics', () => {
  test('serves the latest value of every GPU in the Prometheus text format', async () => {
    const res = await appOf().request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# TYPE gpu_utilization_percent gauge$/m);
    assert.match(text, /^gpu_utilization_percent\{host="node-b",gpu="0",uuid="[^"]+",model="[^"]*"\} 90$/m);
  });

  test("serves dcgm-exporter's names beside gpumon's by default, and only those prometheus.names asks for", async () => {
    const both = await (await appOf().request('/metrics')).text();
    assert.match(
      both,
      /^DCGM_FI_DEV_GPU_UTIL\{gpu="0",UUID="GPU-node-b-0",pci_bus_id="[^"]+",device="nvidia0",modelName="[^"]+",Hostname="node-b",DCGM_FI_DRIVER_VERSION="[^"]+"\} 90$/m,
    );
    const dcgm = createApp(depsOf(fleet()), { now: () => NOW, prometheusNames: 'dcgm' });
    const text = await (await dcgm.request('/metrics')).text();
    assert.match(text, /^DCGM_FI_DEV_GPU_UTIL\{/m);
    assert.doesNotMatch(text, /^gpu_utilization_percent\{/m);
  });

  test("serves each CPU package's temperature where the live source reads the host, and none where not", async () => {
    const packages = [
      { device: 'hwmon1', label: 'Package id 0', celsius: 61 },
      { device: 'hwmon2', label: 'Package id 1', celsius: 58 },
    ];
    const text = await (
      await appOf(fleet(), { cpuPackages: () => ({ host: 'node-b', packages }) }).request('/metrics')
    ).text();
    assert.deepEqual(text.match(/^host_cpu_package_temperature_celsius\{.*$/gm), [
      'host_cpu_package_temperature_celsius{host="node-b",device="hwmon1",label="Package id 0"} 61',
      'host_cpu_package_temperature_celsius{host="node-b",device="hwmon2",label="Package id 1"} 58',
    ]);
    const none = await (await appOf(fleet(), { cpuPackages: () => null }).request('/metrics')).text();
    assert.doesNotMatch(none, /host_cpu_package_temperature_celsius/);
    assert.match(
      none,
      /^gpumon_source_errors_total|^# TYPE gpumon_source_errors_total counter$/m,
      'the rest as before',
    );
  });
});

describe('GET /api/health', () => {
  test('answers ok with the version and the health of every source', async () => {
    const res = await appOf().request('/api/health');
    assert.equal(res.status, 200);
    const body = (await res.json()) as HealthResponse;
    assert.equal(body.status, 'ok');
    assert.equal(body.version, '0.1.0-test');
    assert.equal(body.sources[0]?.notice, 'no GPU found: simulated GPUs');
  });
});

describe('GET /api/catalog', () => {
  test('lists every metric with its unit, kind and help', async () => {
    const body = (await (await appOf().request('/api/catalog')).json()) as CatalogResponse;
    const util = body.metrics.find((m) => m.name === 'gpu_utilization_percent');
    assert.deepEqual(Object.keys(util ?? {}).sort(), ['help', 'kind', 'name', 'unit']);
    assert.equal(util?.unit, 'percent');
    assert.ok(body.metrics.length > 20);
  });
});

describe('GET /api/gpus', () => {
  test('gives the latest sample of every GPU, ordered by host then index', async () => {
    const body = (await (await appOf().request('/api/gpus')).json()) as GpusResponse;
    assert.deepEqual(
      body.gpus.map((g) => g.uuid),
      ['GPU-node-a-0', 'GPU-node-a-1', 'GPU-node-b-0'],
    );
    const b0 = body.gpus[2];
    assert.equal(b0?.ts, NOW);
    assert.equal(b0?.gpu_utilization_percent, 90);
    assert.equal(b0?.gpu_power_draw_watts, null);
    assert.deepEqual(b0?.alerts, { temperature: false, load: false, power: false });
  });

  test('raises the alert flags of a GPU with recent alerts only', async () => {
    const live = fleet();
    const base = { host: 'node-b', gpu_index: 0, uuid: 'GPU-node-b-0', model: 'NVIDIA H100 80GB HBM3' };
    live.apply(
      [],
      [
        { ...base, ts: NOW, rule: 'high_load', value: 95, threshold: 90 },
        { ...base, ts: NOW - 30 * MIN, rule: 'high_power', value: 99, threshold: 95 },
        { ...base, ts: NOW - MIN, rule: 'temperature_spike', value: 8, threshold: 5 },
      ],
    );
    const body = (await (await appOf(live).request('/api/gpus')).json()) as GpusResponse;
    assert.deepEqual(body.gpus[2]?.alerts, { temperature: true, load: true, power: false });
    assert.deepEqual(body.gpus[0]?.alerts, { temperature: false, load: false, power: false });
  });
});

describe('GET /api/gpus/:uuid/series', () => {
  test('gives one metric of one GPU over the last 15 minutes by default', async () => {
    const res = await appOf().request('/api/gpus/GPU-node-b-0/series?metric=gpu_utilization_percent');
    assert.equal(res.status, 200);
    const body = (await res.json()) as SeriesResponse;
    assert.deepEqual(body.ts, [
      NOW - 14 * MIN,
      NOW - 12 * MIN,
      NOW - 10 * MIN,
      NOW - 8 * MIN,
      NOW - 6 * MIN,
      NOW - 4 * MIN,
      NOW - 2 * MIN,
      NOW,
    ]);
    assert.deepEqual(body.values, [20, 30, 40, 50, 60, 70, 80, 90]);
  });

  test('honours minutes and keeps nulls as gaps', async () => {
    const res = await appOf().request('/api/gpus/GPU-node-a-0/series?metric=gpu_power_draw_watts&minutes=3');
    const body = (await res.json()) as SeriesResponse;
    assert.deepEqual(body, { ts: [NOW - 2 * MIN, NOW], values: [null, null] });
  });

  test('answers 404 for an unknown GPU', async () => {
    const res = await appOf().request('/api/gpus/GPU-nope/series?metric=gpu_utilization_percent');
    const error = await errorOf(res, 404);
    assert.equal(error.code, 'NOT_FOUND');
    assert.match(error.message, /GPU-nope/);
  });

  test('answers 400 naming the metric parameter when it is unknown or missing', async () => {
    for (const query of ['?metric=gpu_fun_percent', '']) {
      const res = await appOf().request(`/api/gpus/GPU-node-a-0/series${query}`);
      const error = await errorOf(res, 400);
      assert.equal(error.code, 'BAD_REQUEST');
      assert.match(error.message, /metric/);
    }
  });

  test('answers 400 naming minutes when it is not a positive number within a day', async () => {
    for (const minutes of ['abc', '0', '-5', '100000', 'Infinity']) {
      const res = await appOf().request(
        `/api/gpus/GPU-node-a-0/series?metric=gpu_utilization_percent&minutes=${minutes}`,
      );
      const error = await errorOf(res, 400);
      assert.match(error.message, /minutes/);
    }
  });
});

describe('GET /api/alerts', () => {
  test('gives the most recent alerts first, at most limit', async () => {
    const live = fleet();
    const base = {
      host: 'node-a',
      gpu_index: 0,
      uuid: 'GPU-node-a-0',
      model: 'NVIDIA H100 80GB HBM3',
      threshold: 90,
    } as const;
    live.apply(
      [],
      [1, 2, 3].map((i) => ({ ...base, ts: NOW + i, rule: 'high_load' as const, value: 90 + i })),
    );
    const body = (await (await appOf(live).request('/api/alerts?limit=2')).json()) as AlertsResponse;
    assert.deepEqual(
      body.alerts.map((a) => a.value),
      [93, 92],
    );
  });

  test('answers 400 naming limit when it is not an integer 1..1000', async () => {
    for (const limit of ['0', '1.5', 'ten', '5000']) {
      const error = await errorOf(await appOf().request(`/api/alerts?limit=${limit}`), 400);
      assert.match(error.message, /limit/);
    }
  });
});

describe('unknown routes', () => {
  test('answer 404 with a JSON error', async () => {
    const error = await errorOf(await appOf().request('/api/nothing'), 404);
    assert.equal(error.code, 'NOT_FOUND');
  });
});

function fakeRuns(running: boolean): RunsApi & { triggered: number } {
  return {
    triggered: 0,
    async list() {
      return [{ id: 'run-2' }, { id: 'run-1' }];
    },
    async trigger() {
      this.triggered++;
      return running
        ? { started: false, reason: 'run run-2 is in progress' }
        : { started: true, run: { id: 'run-3' } };
    },
    nextRunAt: () => NOW + 3_600_000,
  };
}

const fakeResults: ResultsApi = {
  async dates() {
    return ['2025-01-13', '2025-01-14', 'junk'];
  },
  async summary(date) {
    return date === '2025-01-14' ? { gpus: 8, avgUtilization: 41.5 } : null;
  },
  async result(date, analysis, filter) {
    if (date !== '2025-01-14' || analysis !== 'hourly_utilization') return null;
    const rows = [
      { uuid: 'GPU-a', hour: 0, avg: 12.5 },
      { uuid: 'GPU-b', hour: 0, avg: 40 },
    ];
    return rows.filter((r) => filter.uuid === undefined || r.uuid === filter.uuid).slice(0, filter.limit);
  },
};

describe('analytics runs', () => {
  test('GET /api/runs lists the runs and the next scheduled one', async () => {
    const body = (await (
      await appOf(fleet(), { runs: fakeRuns(false) }).request('/api/runs')
    ).json()) as RunsResponse;
    assert.deepEqual(body, {
      runs: [{ id: 'run-2' }, { id: 'run-1' }],
      nextRunAt: NOW + 3_600_000,
      canRun: true,
      cannotRunReason: null,
    });
  });

  test('GET /api/runs says why a server that runs no analytics cannot start one', async () => {
    const runs = { ...fakeRuns(false), cannotRun: 'gpumon serve does not run analytics' };
    const body = (await (await appOf(fleet(), { runs }).request('/api/runs')).json()) as RunsResponse;
    assert.equal(body.canRun, false);
    assert.equal(body.cannotRunReason, 'gpumon serve does not run analytics');
  });

  test('POST /api/runs answers 202 with the run it started', async () => {
    const runs = fakeRuns(false);
    const res = await appOf(fleet(), { runs }).request('/api/runs', POST_JSON);
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { started: true, run: { id: 'run-3' } });
    assert.equal(runs.triggered, 1);
  });

  test('POST /api/runs answers 409 with the reason while a run is in progress', async () => {
    const res = await appOf(fleet(), { runs: fakeRuns(true) }).request('/api/runs', POST_JSON);
    const error = await errorOf(res, 409);
    assert.equal(error.code, 'RUN_IN_PROGRESS');
    assert.equal(error.message, 'run run-2 is in progress');
  });

  test('answer 404 NOT_CONFIGURED when the server has no runs', async () => {
    assert.equal((await errorOf(await appOf().request('/api/runs'), 404)).code, 'NOT_CONFIGURED');
    assert.equal((await errorOf(await appOf().request('/api/runs', POST_JSON), 404)).code, 'NOT_CONFIGURED');
  });
});

describe('analytics results', () => {
  const app = () => appOf(fleet(), { results: fakeResults });

  test('GET /api/analytics lists the days with results, newest first', async () => {
    const body = (await (await app().request('/api/analytics')).json()) as AnalyticsDatesResponse;
    assert.deepEqual(body.dates, ['2025-01-14', '2025-01-13']);
  });

  test('GET /api/analytics/:date gives the summary of that day', async () => {
    const body = (await (
      await app().request('/api/analytics/2025-01-14')
    ).json()) as AnalyticsSummaryResponse;
    assert.deepEqual(body, { date: '2025-01-14', summary: { gpus: 8, avgUtilization: 41.5 } });
  });

  test('GET /api/analytics/:date/:analysis?uuid=&limit= keeps one GPU and caps the rows', async () => {
    const one = (await (
      await app().request('/api/analytics/2025-01-14/hourly_utilization?uuid=GPU-b')
    ).json()) as AnalyticsResultResponse;
    assert.deepEqual(
      one.rows.map((r) => r.uuid),
      ['GPU-b'],
    );
    const capped = (await (
      await app().request('/api/analytics/2025-01-14/hourly_utilization?limit=1')
    ).json()) as AnalyticsResultResponse;
    assert.equal(capped.rows.length, 1);
    assert.match(
      (await errorOf(await app().request('/api/analytics/2025-01-14/hourly_utilization?limit=0'), 400))
        .message,
      /limit/,
    );
  });

  test('GET /api/analytics/:date/:analysis gives the rows of that analysis', async () => {
    const res = await app().request('/api/analytics/2025-01-14/hourly_utilization');
    const body = (await res.json()) as AnalyticsResultResponse;
    assert.deepEqual(body.rows, [
      { uuid: 'GPU-a', hour: 0, avg: 12.5 },
      { uuid: 'GPU-b', hour: 0, avg: 40 },
    ]);
  });

  test('answer 400 to ?uuid= on the summary and the host analyses, whose rows are not GPUs', async () => {
    for (const analysis of ['summary', 'host_daily_stats', 'host_temperature_spikes']) {
      const error = await errorOf(
        await app().request(`/api/analytics/2025-01-14/${analysis}?uuid=GPU-a`),
        400,
      );
      assert.match(error.message, /uuid must name a GPU/, analysis);
    }
  });

  test('answer 404 for a day or an analysis without results', async () => {
    assert.equal((await errorOf(await app().request('/api/analytics/2025-01-01'), 404)).code, 'NOT_FOUND');
    await errorOf(await app().request('/api/analytics/2025-01-14/peak_hours'), 404);
  });

  test('answer 400 naming the parameter for a malformed date or analysis', async () => {
    for (const date of ['2025-1-14', '2025-02-30', 'today', '2025-01-14x']) {
      assert.match((await errorOf(await app().request(`/api/analytics/${date}`), 400)).message, /date/);
    }
    for (const analysis of ['Peak', 'peak-hours', 'x1']) {
      const error = await errorOf(await app().request(`/api/analytics/2025-01-14/${analysis}`), 400);
      assert.match(error.message, /analysis/);
    }
  });

  test('answer 404 NOT_CONFIGURED when the server has no results', async () => {
    assert.equal((await errorOf(await appOf().request('/api/analytics'), 404)).code, 'NOT_CONFIGURED');
  });

  test('a failing results store answers 500 with a JSON error naming the request, not the cause', async () => {
    const broken: ResultsApi = {
      ...fakeResults,
      dates: () =>
        Promise.reject(
          new Error("IO Error: No files found that match the pattern '/srv/gpumon/data/x.parquet'"),
        ),
    };
    const error = await errorOf(await appOf(fleet(), { results: broken }).request('/api/analytics'), 500);
    assert.equal(error.code, 'INTERNAL');
    assert.ok(error.message.includes(error.requestId), error.message);
    assert.doesNotMatch(error.message, /\/srv|IO Error|parquet/);
  });
});

describe('the page', () => {
  test('GET / serves the page shell', async () => {
    const res = await appOf().request('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await res.text(), /<script type="module" src="\/assets\/app.js">/);
  });

  test('GET /assets/app.js serves web/app.ts bundled with uPlot', async () => {
    const res = await appOf().request('/assets/app.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/javascript/);
    const js = await res.text();
    assert.match(js, /api\/stream/);
    assert.match(js, /uplot/);
  });

  test('GET /assets/uplot.css and /assets/app.css serve the styles', async () => {
    for (const path of ['/assets/uplot.css', '/assets/app.css']) {
      const res = await appOf().request(path);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/css/);
    }
  });
});
