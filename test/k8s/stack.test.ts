/**
 * The whole system on a real Kubernetes cluster (scripts/k8s/cluster.sh), deployed as a user deploys it:
 * deploy/kubernetes/deploy.sh with the test overlay (images built by test/cluster-images/build.sh, small
 * requests, the analytics every minute on today's samples, simulated agents). Then: the data flows
 * (agent -> Kafka -> consume -> InfluxDB and HDFS), the analytics run on the Spark workers and land on HDFS,
 * the CronJob schedules on its own, the users' guide commands work verbatim, scaling the workers adds
 * executors, the thresholds ConfigMap changes the analytics, and undeploy.sh keeps the data that a second
 * deploy.sh finds again. Grafana is the one component without a pod (it cannot be installed here): its
 * dashboards are checked by their queries (test/deploy/grafana.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { PARTIAL_RELATIONS } from '../../src/analytics/analyses.ts';
import { PROJECT_ROOT } from '../../src/paths.ts';
import { requiredEnv } from '../../src/testing/services.ts';
import { kubectl, portForward, run, sh, userEnv, waitFor } from './kube.ts';

const NS = 'gpu-monitoring';
const DEPLOY = join(PROJECT_ROOT, 'deploy', 'kubernetes');
const OVERLAY = join(DEPLOY, 'overlays', 'test');
// The images of the test overlay must be in the node's containerd (scripts/test imports them).
requiredEnv('GPUMON_TEST_CLUSTER_IMAGES', 'the test images in the cluster: test/cluster-images/build.sh');

const today = () => new Date().toISOString().slice(0, 10);
const hdfs = (...args: string[]) => kubectl(['exec', '-n', NS, 'namenode-0', '--', 'hdfs', ...args]);

async function secret(name: string, key: string): Promise<string> {
  const b64 = await kubectl(['get', 'secret', '-n', NS, name, '-o', `jsonpath={.data.${key}}`]);
  return Buffer.from(b64, 'base64').toString();
}

/** A request to InfluxDB's `path` (/query, /write) on gpumon's database as the user of the Secret `user`. */
async function influx(
  path: '/query' | '/write',
  params: Record<string, string>,
  user: string,
  body?: string,
) {
  const pf = await portForward(NS, 'svc/influxdb', 8086);
  try {
    const url = new URL(`http://127.0.0.1:${pf.port}${path}`);
    url.searchParams.set('db', 'gpumon');
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    url.searchParams.set('u', await secret(user, 'username'));
    url.searchParams.set('p', await secret(user, 'password'));
    const res = await fetch(url, body === undefined ? {} : { method: 'POST', body });
    return { status: res.status, text: await res.text() };
  } finally {
    pf.stop();
  }
}

/** The number of points of `field` in `measurement` of gpumon's database, as the user of the Secret `user`. */
async function influxCount(measurement: string, field: string, user = 'gpumon-influxdb'): Promise<number> {
  const res = await influx('/query', { q: `SELECT count(${field}) FROM ${measurement}` }, user);
  assert.equal(res.status, 200, res.text);
  const body = JSON.parse(res.text) as { results: { series?: { values: [string, number][] }[] }[] };
  return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

interface SparkMaster {
  aliveworkers: number;
  cores: number;
  coresused: number;
  activeapps: { name: string; cores: number; state: string }[];
}

async function sparkMaster(): Promise<SparkMaster> {
  const pf = await portForward(NS, 'svc/spark-master', 8080);
  try {
    return (await (await fetch(`http://127.0.0.1:${pf.port}/json/`)).json()) as SparkMaster;
  } finally {
    pf.stop();
  }
}

/** Creates a Job from the CronJob and waits for it to complete; fails with its logs when it fails. */
async function runAnalyticsNow(name: string): Promise<void> {
  await kubectl(['create', 'job', '-n', NS, '--from=cronjob/gpu-batch-analytics', name]);
  await waitForJob(name);
}

/** Waits for the Job `name` to complete; fails with its logs when it fails. */
async function waitForJob(name: string): Promise<void> {
  const outcome = await waitFor(`Job ${name} to end`, 15 * 60_000, async () => {
    const types = await kubectl([
      'get',
      'job',
      '-n',
      NS,
      name,
      '-o',
      'jsonpath={.status.conditions[?(@.status=="True")].type}',
    ]);
    if (/\bComplete\b/.test(types)) return 'Complete';
    if (/\bFailed\b/.test(types)) return 'Failed';
    return undefined;
  });
  if (outcome !== 'Complete') {
    const logs = await kubectl(['logs', '-n', NS, `job/${name}`, '--tail=50']).catch((e) => String(e));
    assert.fail(`Job ${name} failed: ${logs}`);
  }
}

/** The UTC hour (YYYY-MM-DDTHH) of the newest samples file on HDFS, by the time in its name. */
async function newestArchivedHour(): Promise<string> {
  const dates = (await hdfs('dfs', '-ls', '-C', '/gpu-metrics')).match(/date=\d{4}-\d\d-\d\d/g) ?? [];
  const latest = dates.sort().at(-1);
  assert.ok(latest, 'a date of samples on HDFS');
  const names = await hdfs('dfs', '-ls', '-C', `/gpu-metrics/${latest}`);
  const firsts = [...names.matchAll(/part-(\d+)-/g)].map((m) => Number(m[1]));
  assert.ok(firsts.length > 0, `files named by their first sample in /gpu-metrics/${latest}: ${names}`);
  return new Date(Math.max(...firsts)).toISOString().slice(0, 13);
}

async function summary(date: string): Promise<Record<string, unknown>> {
  return JSON.parse(await hdfs('dfs', '-cat', `/gpu-analytics/date=${date}/summary.json`)) as Record<
    string,
    unknown
  >;
}

async function deploy(): Promise<string> {
  const r = await run(join(DEPLOY, 'deploy.sh'), ['--overlay', OVERLAY, '--timeout', '1200'], {
    timeoutMs: 25 * 60_000,
  });
  assert.equal(r.code, 0, `deploy.sh failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

describe('the whole stack on a real Kubernetes cluster, deployed by deploy.sh', {
  timeout: 90 * 60_000,
}, () => {
  let deployOutput = '';
  before(
    async () => {
      deployOutput = await deploy();
    },
    { timeout: 30 * 60_000 },
  );

  it('brings every component to Ready and prints how to reach Grafana and its password', async () => {
    const pods = JSON.parse(await kubectl(['get', 'pods', '-n', NS, '-o', 'json'])) as {
      items: {
        metadata: { name: string; ownerReferences?: { kind: string }[] };
        status: { phase: string };
      }[];
    };
    const running = pods.items.filter((p) => p.status.phase === 'Running').map((p) => p.metadata.name);
    for (const name of ['kafka-0', 'namenode-0', 'datanode-0', 'influxdb-0']) {
      assert.ok(running.includes(name), `${name} running (running: ${running.join(' ')})`);
    }
    for (const prefix of [
      'spark-master-',
      'spark-worker-',
      'spark-connect-',
      'gpumon-consume-',
      'gpumon-serve-',
    ]) {
      assert.ok(
        running.some((n) => n.startsWith(prefix)),
        `a ${prefix}* pod running (running: ${running.join(' ')})`,
      );
    }
    const ready = await kubectl(['get', 'deploy,statefulset', '-n', NS, '-o', 'json']);
    for (const w of (
      JSON.parse(ready) as {
        items: {
          metadata: { name: string };
          spec: { replicas: number };
          status: { readyReplicas?: number };
        }[];
      }
    ).items) {
      assert.equal(w.status.readyReplicas ?? 0, w.spec.replicas, `${w.metadata.name} ready`);
    }
    assert.match(deployOutput, /kubectl port-forward -n gpu-monitoring svc\/grafana 3000:3000/);
    assert.match(deployOutput, /kubectl get secret -n gpu-monitoring grafana-admin/);
  });

  it('admits only pods of the namespace level: a privileged pod is refused by Pod Security admission', async () => {
    const labels = await kubectl(['get', 'ns', NS, '-o', 'jsonpath={.metadata.labels}']);
    assert.match(labels, /"pod-security.kubernetes.io\/enforce":"restricted"/);
    const r = await sh(
      `kubectl run -n ${NS} privileged-probe --image=localhost/gpumon:0.1.0 --restart=Never --privileged -- --help`,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /violates PodSecurity "restricted/);
  });

  it("carries the simulated agents' samples through Kafka into InfluxDB and into the HDFS archive", async () => {
    const first = await waitFor('samples in InfluxDB', 5 * 60_000, async () => {
      const n = await influxCount('gpu_metrics', 'utilization_gpu');
      return n > 0 ? n : undefined;
    });
    await waitFor('more samples in InfluxDB', 60_000, async () => {
      const n = await influxCount('gpu_metrics', 'utilization_gpu');
      return n > first ? n : undefined;
    });
    const files = await waitFor('Parquet files in /gpu-metrics', 5 * 60_000, async () => {
      const ls = await hdfs('dfs', '-ls', '-R', `/gpu-metrics/date=${today()}`);
      return /\.parquet$/m.test(ls) ? ls : undefined;
    });
    assert.match(files, /part-.*\.parquet/);
  });

  it('gives gpumon serve an InfluxDB user that reads the samples and may not write', async () => {
    assert.ok((await influxCount('gpu_metrics', 'utilization_gpu', 'gpumon-serve-influxdb')) > 0);
    const write = await influx(
      '/write',
      {},
      'gpumon-serve-influxdb',
      'gpu_metrics,host=probe utilization_gpu=1',
    );
    assert.equal(write.status, 403, write.text);
    assert.match(write.text, /not authorized to write/);
    const serve = await kubectl(['get', 'deploy', '-n', NS, 'gpumon-serve', '-o', 'json']);
    assert.match(serve, /"name": "gpumon-serve-influxdb"/, 'serve reads its credentials from that Secret');
  });

  it('schedules the analytics CronJob on its own (every minute in the test overlay)', async () => {
    const last = await waitFor('a scheduled run of gpu-batch-analytics', 4 * 60_000, async () => {
      const r = await sh(
        `kubectl get cronjob -n gpu-monitoring gpu-batch-analytics -o jsonpath='{.status.lastScheduleTime}'`,
      );
      return r.code === 0 && /^\d{4}-\d\d-\d\dT/.test(r.stdout) ? r.stdout : undefined;
    });
    assert.ok(Date.parse(last) > Date.now() - 10 * 60_000, `lastScheduleTime ${last}`);
    const jobs = JSON.parse(await kubectl(['get', 'jobs', '-n', NS, '-o', 'json'])) as {
      items: { metadata: { ownerReferences?: { kind: string; name: string }[] } }[];
    };
    assert.ok(
      jobs.items.some((j) =>
        j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'gpu-batch-analytics'),
      ),
      'a Job owned by the CronJob',
    );
    // From here on the test starts the runs itself.
    await kubectl(['patch', 'cronjob', '-n', NS, 'gpu-batch-analytics', '-p', '{"spec":{"suspend":true}}']);
    const suspended = await sh(
      `kubectl get cronjob -n gpu-monitoring gpu-batch-analytics -o jsonpath='{.spec.suspend}'`,
    );
    assert.equal(suspended.stdout, 'true');
  });

  it('runs the analytics of a Job made from the CronJob on the Spark workers, results on HDFS', async () => {
    const master = await sparkMaster();
    assert.equal(master.aliveworkers, 2);
    const connect = master.activeapps.find((a) => a.state === 'RUNNING');
    assert.ok(connect, `the Spark Connect server is an application of the master: ${JSON.stringify(master)}`);
    assert.ok(connect.cores > 0, 'it holds executors on the workers');
    await runAnalyticsNow(`manual-run-${Math.floor(Date.now() / 1000)}`);
    const s = await summary(today());
    assert.equal(s.date, today());
    assert.ok(Number(s.sample_count) > 0, JSON.stringify(s));
    const ls = await hdfs('dfs', '-ls', `/gpu-analytics/date=${today()}`);
    for (const analysis of [
      'daily_stats',
      'hourly_patterns',
      'temperature_spikes',
      'correlations',
      'idle_time',
    ]) {
      assert.match(ls, new RegExp(`${analysis}\\.parquet`), `${analysis} on HDFS`);
    }
  });

  it('keeps an hourly partial on HDFS by a Job of gpu-hourly-analytics, on Spark', async () => {
    const cron = JSON.parse(
      await kubectl(['get', 'cronjob', '-n', NS, 'gpu-hourly-analytics', '-o', 'json']),
    ) as {
      spec: {
        suspend?: boolean;
        jobTemplate: {
          metadata?: { labels?: Record<string, string> };
          spec: { template: { spec: { containers: { args: string[] }[] } } };
        };
      };
    };
    assert.equal(cron.spec.suspend, true, 'suspended in the test overlay: the test runs it');
    const template = cron.spec.jobTemplate;
    const container = template.spec.template.spec.containers[0];
    assert.deepEqual(container?.args.slice(-2), ['--hour', 'last']);
    // The cluster is younger than an hour: the hour of the newest samples instead of the last closed one.
    const hour = await newestArchivedHour();
    if (container) container.args = [...container.args.slice(0, -1), hour];
    const name = `hourly-run-${Math.floor(Date.now() / 1000)}`;
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: NS, labels: template.metadata?.labels ?? {} },
      spec: template.spec,
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(job));
    try {
      await waitForJob(name);
    } finally {
      // Not owned by the CronJob (applied, not `create job --from`): removed with its pod here, not by undeploy.
      await kubectl(['delete', 'job', '-n', NS, name, '--cascade=foreground', '--wait=true']);
    }
    const [date, hh] = hour.split('T') as [string, string];
    const manifest = JSON.parse(
      await hdfs('dfs', '-cat', `/gpu-analytics/partials/date=${date}/hour=${hh}/inputs.json`),
    ) as { hour: number; files: string[]; rows: Record<string, number>; engine: string };
    assert.equal(manifest.hour, Number(hh));
    assert.equal(manifest.engine, 'spark');
    assert.ok(manifest.files.length > 0, JSON.stringify(manifest));
    const ls = await hdfs('dfs', '-ls', `/gpu-analytics/partials/date=${date}/hour=${hh}`);
    for (const { name } of PARTIAL_RELATIONS) {
      assert.ok((manifest.rows[name] ?? 0) > 0, `${name}: ${JSON.stringify(manifest)}`);
      assert.match(ls, new RegExp(`${name}\\.parquet`));
    }
  });

  it('gives the next runs more executors when the workers are scaled', async () => {
    const before = await sparkMaster();
    const r = await sh('kubectl scale deployment -n gpu-monitoring spark-worker --replicas=3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment.apps\/spark-worker scaled/);
    const after = await waitFor('a third Spark worker with its cores in use', 5 * 60_000, async () => {
      const m = await sparkMaster();
      return m.aliveworkers === 3 && m.coresused > before.coresused ? m : undefined;
    });
    assert.ok(after.cores > before.cores);
  });

  it('uses the thresholds of the ConfigMap: a lower temperature-spike threshold finds more spikes', async () => {
    const before = Number((await summary(today())).temperature_spikes);
    // The ConfigMap the CronJob's pods mount (its name carries a hash of gpumon.yaml).
    const name = await kubectl([
      'get',
      'cronjob',
      '-n',
      NS,
      'gpu-batch-analytics',
      '-o',
      'jsonpath={.spec.jobTemplate.spec.template.spec.volumes[?(@.name=="config")].configMap.name}',
    ]);
    const config = JSON.parse(await kubectl(['get', 'configmap', '-n', NS, name, '-o', 'json'])) as {
      metadata: { name: string };
      data: Record<string, string>;
    };
    const yaml = config.data['gpumon.yaml'] ?? '';
    assert.match(yaml, /tempSpikeCelsius: 5\.0/);
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: config.metadata.name, namespace: NS },
        data: {
          ...config.data,
          'gpumon.yaml': yaml.replace(/tempSpikeCelsius: 5\.0/, 'tempSpikeCelsius: 0.5'),
        },
      }),
    );
    await runAnalyticsNow(`threshold-run-${Math.floor(Date.now() / 1000)}`);
    const after = Number((await summary(today())).temperature_spikes);
    assert.ok(after > before, `spikes with 0.5 °C (${after}) > with 5 °C (${before})`);
  });

  it("answers the users' guide commands verbatim", async () => {
    const ok = async (command: string, expect: RegExp) => {
      const r = await sh(command);
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
      assert.match(r.stdout, expect, command);
    };
    await ok('kubectl get pods -n gpu-monitoring', /namenode-0\s+1\/1\s+Running/);
    await ok('kubectl get cronjob -n gpu-monitoring', /gpu-batch-analytics/);
    await ok(
      'kubectl get cronjob -n gpu-monitoring gpu-batch-analytics',
      /gpu-batch-analytics\s+\S+ \S+ \S+ \S+ \S+/,
    );
    await ok(
      `kubectl get cronjob -n gpu-monitoring gpu-batch-analytics -o jsonpath='{.spec.suspend}'`,
      /^(true|false)$/,
    );
    await ok(
      `kubectl get cronjob -n gpu-monitoring gpu-batch-analytics -o jsonpath='{.status.lastScheduleTime}'`,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    const created = await sh(
      'kubectl create job -n gpu-monitoring --from=cronjob/gpu-batch-analytics manual-run-$(date +%s)',
    );
    assert.equal(created.code, 0, created.stderr);
    const job = /job\.batch\/(manual-run-\d+) created/.exec(created.stdout)?.[1];
    assert.ok(job, created.stdout);
    await ok('kubectl get jobs -n gpu-monitoring --sort-by=.metadata.creationTimestamp', /manual-run-\d+/);
    // As a user would: once the Job's pod has started, its logs are there (the label also selects the pods of
    // the CronJob's own runs, every minute in the test overlay, which may be starting at that moment).
    await waitFor(`the pod of Job ${job} to start`, 5 * 60_000, async () => {
      const phases = await kubectl([
        'get',
        'pods',
        '-n',
        NS,
        '-l',
        `job-name=${job}`,
        '-o',
        'jsonpath={.items[*].status.phase}',
      ]);
      return /Running|Succeeded|Failed/.test(phases) ? true : undefined;
    });
    await waitFor('logs of an analytics pod', 5 * 60_000, async () => {
      const r = await sh('kubectl logs -n gpu-monitoring -l app=batch-analytics-pod');
      if (r.code === 0 && /analyze/.test(r.stdout + r.stderr)) return true;
      // Kept for the failure's message: what the command answered the last time.
      const pods = await kubectl([
        'get',
        'pods',
        '-n',
        NS,
        '-l',
        'app=batch-analytics-pod',
        '-o',
        'wide',
      ]).catch(String);
      throw new Error(`exit ${r.code}: ${(r.stderr || r.stdout).slice(-800)}\n${pods}`);
    });
    await ok('kubectl scale deployment -n gpu-monitoring spark-worker --replicas=4', /spark-worker scaled/);
    await ok('kubectl get pvc -n gpu-monitoring', /Bound/);
    await ok(
      'kubectl exec -n gpu-monitoring namenode-0 -- hdfs dfs -ls /',
      /\/gpu-analytics\n[\s\S]*\/gpu-metrics$/m,
    );
    // The port-forwards, as typed (fixed local ports), each answering over HTTP. Grafana has no pod here.
    for (const [svc, port, path, expect] of [
      ['spark-master', 8080, '/json/', /aliveworkers/],
      ['namenode', 9870, '/webhdfs/v1/?op=LISTSTATUS', /gpu-metrics/],
    ] as const) {
      const child = spawn(
        'bash',
        ['-c', `exec kubectl port-forward -n gpu-monitoring svc/${svc} ${port}:${port}`],
        {
          env: userEnv(),
          stdio: 'ignore',
        },
      );
      try {
        const body = await waitFor(
          `port-forward svc/${svc} ${port}:${port}`,
          30_000,
          async () => {
            const res = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
            return res?.ok ? await res.text() : undefined;
          },
          500,
        );
        assert.match(body, expect);
      } finally {
        child.kill('SIGTERM');
      }
    }
    const grafana = await sh('kubectl get deployment -n gpu-monitoring grafana -o jsonpath={.spec.replicas}');
    assert.equal(grafana.stdout, '0', 'Grafana is rendered and applied, with no pod in the test overlay');
  });

  it('undeploy.sh removes the workloads and keeps the data, which a second deploy.sh finds again', async () => {
    const points = await influxCount('gpu_metrics', 'utilization_gpu');
    const u = await run(join(DEPLOY, 'undeploy.sh'), [], { timeoutMs: 10 * 60_000 });
    assert.equal(u.code, 0, `${u.stdout}\n${u.stderr}`);
    await waitFor('the workloads to be gone', 5 * 60_000, async () => {
      const left = await kubectl(['get', 'deploy,statefulset,cronjob,pods', '-n', NS, '-o', 'name']);
      return left.trim() === '' ? true : undefined;
    });
    const pvcs = await kubectl(['get', 'pvc', '-n', NS, '-o', 'name']);
    for (const claim of ['namenode', 'datanode', 'influxdb', 'kafka'])
      assert.match(pvcs, new RegExp(claim), `PVC of ${claim} kept`);
    await deploy();
    assert.ok((await influxCount('gpu_metrics', 'utilization_gpu')) >= points, 'InfluxDB kept its points');
    assert.ok(Number((await summary(today())).sample_count) > 0, 'HDFS kept the analytics');
  });
});
