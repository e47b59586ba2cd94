import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import {
  type HealthReporter,
  type ReadinessCheck,
  renderFamilies,
  startConfiguredHealthServer,
  startHealthServer,
} from './health-server.ts';

/** A reporter whose checks a test sets. */
function reporter(checks: ReadinessCheck[]): HealthReporter & { checks: ReadinessCheck[] } {
  const r = {
    checks,
    readiness: () => r.checks,
    metrics: () => '# HELP x_total X.\n# TYPE x_total counter\nx_total 3\n',
  };
  return r;
}

describe('the health server', async () => {
  const r = reporter([{ name: 'source', ok: true, detail: 'sim: last read 0.5 s ago' }]);
  const server = await startHealthServer({ host: '127.0.0.1', port: 0, service: 'gpumon-test', reporter: r });
  after(() => server.close());
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  it('answers /healthz with 200 whatever the readiness', async () => {
    r.checks = [{ name: 'source', ok: false, detail: 'no read yet' }];
    const res = await fetch(url('/healthz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { service: 'gpumon-test', status: 'alive' });
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  it('answers /readyz with 200 and the checks when every check is ok', async () => {
    r.checks = [
      { name: 'source', ok: true, detail: 'sim: last read 0.5 s ago' },
      { name: 'kafka', ok: true, detail: 'reachable' },
    ];
    const res = await fetch(url('/readyz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { service: 'gpumon-test', status: 'ready', checks: r.checks });
  });

  it('answers /readyz with 503, naming the failing check, when one is not ok', async () => {
    r.checks = [
      { name: 'source', ok: false, detail: 'sim: last successful read 40.0 s ago' },
      { name: 'kafka', ok: true, detail: 'reachable' },
    ];
    const res = await fetch(url('/readyz'));
    assert.equal(res.status, 503);
    const body = (await res.json()) as { status: string; checks: ReadinessCheck[] };
    assert.equal(body.status, 'not ready');
    assert.deepEqual(
      body.checks.filter((c) => !c.ok).map((c) => c.name),
      ['source'],
    );
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const res = await fetch(url('/metrics'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /^x_total 3$/m);
  });

  it('answers HEAD without a body', async () => {
    const res = await fetch(url('/healthz'), { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  it('refuses other methods with 405 and unknown paths with 404', async () => {
    const post = await fetch(url('/readyz'), { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const missing = await fetch(url('/api/health'));
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /\/api\/health/);
  });
});

describe('startConfiguredHealthServer', () => {
  it('starts nothing when health.port is 0', async () => {
    const none = await startConfiguredHealthServer({ host: '127.0.0.1', port: 0 }, 'x', reporter([]));
    assert.equal(none, undefined);
  });

  it('fails with a usage error naming the address and the keys when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(
        startConfiguredHealthServer({ host: '127.0.0.1', port }, 'x', reporter([])),
        (err: unknown) =>
          isGpumonError(err, 'USAGE') &&
          err.message.includes(`127.0.0.1:${port}`) &&
          err.message.includes('EADDRINUSE') &&
          err.message.includes('health.port'),
      );
    } finally {
      taken.close();
    }
  });
});

describe('renderFamilies', () => {
  it('writes HELP, TYPE and one line per sample, escaping label values', () => {
    const text = renderFamilies([
      {
        name: 'gpumon_x_total',
        help: 'Things.',
        type: 'counter',
        samples: [
          { labels: { group: 'a"b' }, value: 2 },
          { labels: { group: 'c' }, value: 0 },
        ],
      },
      { name: 'gpumon_up', help: 'Up.', type: 'gauge', samples: [{ value: 1 }] },
    ]);
    assert.equal(
      text,
      [
        '# HELP gpumon_x_total Things.',
        '# TYPE gpumon_x_total counter',
        'gpumon_x_total{group="a\\"b"} 2',
        'gpumon_x_total{group="c"} 0',
        '# HELP gpumon_up Up.',
        '# TYPE gpumon_up gauge',
        'gpumon_up 1',
        '',
      ].join('\n'),
    );
  });

  it('leaves out a family without samples', () => {
    assert.equal(renderFamilies([{ name: 'gpumon_none', help: 'None.', type: 'gauge', samples: [] }]), '');
  });
});
