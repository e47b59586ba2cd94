/**
 * Smoke test of the test suite's own Kubernetes cluster (scripts/k8s/cluster.sh start; docs/services.md):
 * the node, a Pod and its logs, a Deployment behind a ClusterIP Service found by DNS name, a PersistentVolumeClaim
 * of the default StorageClass, and a CronJob that schedules a Job by itself and one started from it by hand.
 * Everything runs in a namespace of its own, deleted at the end, with the cluster's built kubectl. It fails,
 * never skips, without the cluster.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { requiredEnv } from '../../src/testing/services.ts';
import { assertClusterUp, kubectl, waitFor } from './kube.ts';

const START = 'the test cluster: run scripts/k8s/cluster.sh start and export the KEY=value lines it prints';
const busybox = requiredEnv('GPUMON_TEST_K8S_BUSYBOX_IMAGE', START);

const token = randomUUID().replaceAll('-', '').slice(0, 10);
const ns = `gpumon-smoke-${token}`;
const NODE_LABEL = 'nvidia.com/gpu.present';

const apply = (...objects: object[]) =>
  kubectl(['apply', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));

async function getJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(['get', '-n', ns, '-o', 'json', ...args])) as T;
}

interface Pod {
  status: { phase: string; containerStatuses?: { state?: { terminated?: { reason?: string } } }[] };
}

/** Waits until pod `name` has ended; returns its phase (Succeeded or Failed) and logs. */
async function podResult(name: string, timeoutMs = 90_000): Promise<{ phase: string; logs: string }> {
  const phase = await waitFor(`pod ${name} to end`, timeoutMs, async () => {
    const pod = await getJson<Pod>('pod', name);
    return ['Succeeded', 'Failed'].includes(pod.status.phase) ? pod.status.phase : undefined;
  });
  return { phase, logs: await kubectl(['logs', '-n', ns, name]) };
}

/** A busybox pod that runs `script` with sh once (restartPolicy Never), with the claim `claim` at /data. */
function shPod(name: string, script: string, claim?: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: busybox,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', script],
          volumeMounts: claim ? [{ name: 'data', mountPath: '/data' }] : [],
        },
      ],
      volumes: claim ? [{ name: 'data', persistentVolumeClaim: { claimName: claim } }] : [],
    },
  };
}

interface Job {
  metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
  status: { succeeded?: number; failed?: number };
}

/** The logs of the (one) pod of job `name`, once the job succeeded. */
async function jobLogs(name: string, timeoutMs: number): Promise<string> {
  await waitFor(`job ${name} to succeed`, timeoutMs, async () => {
    const job = await getJson<Job>('job', name);
    assert.ok(!job.status.failed, `job ${name} failed`);
    return job.status.succeeded === 1 ? true : undefined;
  });
  return kubectl(['logs', '-n', ns, `job/${name}`]);
}

describe('the test Kubernetes cluster', { timeout: 600_000 }, () => {
  const cronCreated = Date.now();

  before(async () => {
    assertClusterUp();
    await kubectl(['create', 'namespace', ns]);
    // the CronJob first: its first Job comes at the next full minute, while the other tests run
    await apply({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick' },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            template: { spec: shPod('tick', `echo tick-${token}`).spec },
          },
        },
      },
    });
  });

  after(async () => {
    assertClusterUp();
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], undefined, 150_000);
  });

  it('has one node, Ready, labelled as a GPU node for the agent DaemonSet', async () => {
    const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as {
      items: {
        metadata: { name: string; labels: Record<string, string> };
        status: { conditions: { type: string; status: string }[] };
      }[];
    };
    assert.equal(nodes.items.length, 1);
    const node = nodes.items[0];
    assert.ok(node);
    assert.equal(node.metadata.name, 'gpumon-node');
    assert.equal(node.metadata.labels[NODE_LABEL], 'true');
    assert.equal(node.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
  });

  it('runs a Pod and reads its logs back', async () => {
    await apply(shPod('hello', `echo hello-${token}; echo second line`));
    const { phase, logs } = await podResult('hello');
    assert.equal(phase, 'Succeeded');
    assert.equal(logs, `hello-${token}\nsecond line\n`);
  });

  it('serves a Deployment behind a ClusterIP Service that another pod reaches by DNS name', async () => {
    await apply(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'httpd',
                  image: busybox,
                  imagePullPolicy: 'Never',
                  command: [
                    'sh',
                    '-c',
                    `mkdir -p /www && echo "web-${token} $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www`,
                  ],
                  ports: [{ containerPort: 8080 }],
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web' },
        spec: { type: 'ClusterIP', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    );
    await kubectl(['rollout', 'status', '-n', ns, 'deployment/web', '--timeout=90s'], undefined, 100_000);
    const svc = await getJson<{ spec: { clusterIP: string } }>('service', 'web');
    assert.match(svc.spec.clusterIP, /^10\.\d+\.64\.\d+$/);

    // by short name (the pod's search path), and by full name, which must resolve to the Service's IP.
    // (`timeout 3 wget`, not `wget -T 3`: Debian 12's static busybox 1.35 segfaults on wget -T.)
    await apply(
      shPod(
        'client',
        [
          'for i in $(seq 1 30); do timeout 3 wget -q -O - http://web/ && break; sleep 1; done',
          `timeout 3 wget -q -O - http://web.${ns}.svc.cluster.local/`,
          `nslookup web.${ns}.svc.cluster.local | grep -A1 'Name:' | tail -1`,
        ].join('\n'),
      ),
    );
    const { phase, logs } = await podResult('client');
    assert.equal(phase, 'Succeeded', logs);
    const lines = logs.trim().split('\n');
    assert.equal(lines.length, 3, logs);
    for (const line of lines.slice(0, 2))
      assert.match(line, new RegExp(`^web-${token} web-[a-z0-9]+-[a-z0-9]+$`));
    assert.match(lines[2] ?? '', new RegExp(`Address:? ${svc.spec.clusterIP.replaceAll('.', '\\.')}$`));
  });

  it('binds claims of the default StorageClass (ReadWriteOnce and ReadWriteMany); a file written by one pod is read by the next', async () => {
    const claim = (name: string, mode: string) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name },
      spec: { accessModes: [mode], resources: { requests: { storage: '1Gi' } } },
    });
    await apply(claim('data', 'ReadWriteOnce'), claim('shared', 'ReadWriteMany'));
    for (const name of ['data', 'shared']) {
      const pvc = await waitFor(`claim ${name} to bind`, 90_000, async () => {
        const c = await getJson<{ spec: { storageClassName?: string }; status: { phase: string } }>(
          'pvc',
          name,
        );
        return c.status.phase === 'Bound' ? c : undefined;
      });
      assert.equal(pvc.spec.storageClassName, 'local-path', `claim ${name}`);
    }
    await apply(shPod('writer', `echo "stored-${token}" > /data/file && sync && cat /data/file`, 'data'));
    assert.deepEqual(await podResult('writer'), { phase: 'Succeeded', logs: `stored-${token}\n` });
    // a second pod, after the first ended: the file is on the volume, not in a container
    await apply(shPod('reader', 'ls /data && cat /data/file', 'data'));
    assert.deepEqual(await podResult('reader'), { phase: 'Succeeded', logs: `file\nstored-${token}\n` });
    // and the RWX claim is mounted by two pods at once
    await apply(
      shPod(
        'rwx-a',
        `echo a-${token} > /data/a; for i in $(seq 1 60); do [ -f /data/b ] && break; sleep 1; done; cat /data/b`,
        'shared',
      ),
      shPod(
        'rwx-b',
        `echo b-${token} > /data/b; for i in $(seq 1 60); do [ -f /data/a ] && break; sleep 1; done; cat /data/a`,
        'shared',
      ),
    );
    assert.deepEqual(await podResult('rwx-a'), { phase: 'Succeeded', logs: `b-${token}\n` });
    assert.deepEqual(await podResult('rwx-b'), { phase: 'Succeeded', logs: `a-${token}\n` });
  });

  it('runs a CronJob on its schedule, and a Job created from it by hand', async () => {
    // the first full minute after the CronJob was created, plus starting the pod
    const left = 60_000 - (Date.now() - cronCreated) + 40_000;
    const scheduled = await waitFor('the CronJob to create a Job', Math.max(left, 20_000), async () => {
      const jobs = await getJson<{ items: Job[] }>('jobs');
      return jobs.items.find((j) =>
        j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'tick'),
      );
    });
    assert.match(scheduled.metadata.name, /^tick-\d+$/);
    assert.equal(await jobLogs(scheduled.metadata.name, 60_000), `tick-${token}\n`);

    await kubectl(['create', 'job', '-n', ns, '--from=cronjob/tick', 'tick-by-hand']);
    assert.equal(await jobLogs('tick-by-hand', 60_000), `tick-${token}\n`);
    const cron = await getJson<{ status: { lastScheduleTime?: string } }>('cronjob', 'tick');
    assert.ok(cron.status.lastScheduleTime, 'the CronJob records when it last scheduled');
  });
});
