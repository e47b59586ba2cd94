/**
 * Pod attribution on the test cluster's real kubelet (docs/decisions/0010-agent-pod-resources-uid.md): the
 * agent DaemonSet of the project's manifests (the test overlay's rendering: simulated GPUs, local image),
 * with its securityContext and read-only pod-resources mount as shipped, only moved to a namespace of its
 * own and pointed at this kubelet's --root-dir. A fake device plugin registers the agent's simulated GPUs
 * with the kubelet as `nvidia.com/gpu` (their UUIDs as device ids, as NVIDIA's plugin does); a pod
 * requesting one GPU is then named on exactly that GPU's samples (the agent's /metrics, dcgm-exporter's
 * `namespace`, `pod` and `container` labels) until it is deleted. The spool an earlier release left to uid
 * 1000 is handed to the agent at uid 0. The agent at uid 1000 (components/agent-non-root) is refused by the
 * kubelet's socket and names no pod.
 */
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { PROJECT_ROOT } from '../../src/paths.ts';
import { requiredEnv } from '../../src/testing/services.ts';
import { FakeGpuPlugin } from './device-plugin/fake-gpus.ts';
import { cluster, kubectl, waitFor } from './kube.ts';

// The test overlay's gpumon image must be in the node's containerd (scripts/test imports it).
requiredEnv('GPUMON_TEST_CLUSTER_IMAGES', 'the test images in the cluster: test/cluster-images/build.sh');
const BUSYBOX = requiredEnv(
  'GPUMON_TEST_K8S_BUSYBOX_IMAGE',
  'the test cluster: scripts/k8s/cluster.sh start',
);

const DEPLOY = join(PROJECT_ROOT, 'deploy', 'kubernetes');
/** The agent's namespace here (the manifests' gpu-monitoring-agent, renamed: the stack test owns that one). */
const AGENT_NS = 'gpumon-pod-attribution';
/** Where the GPU workloads run. */
const WORK_NS = 'gpumon-gpu-workloads';
const SHIPPED_SOCKET_DIR = '/var/lib/kubelet/pod-resources';
const SPOOL = '/var/lib/gpumon/spool';

/** The cluster's state directory (cluster.sh: GPUMON_K8S_DIR, where the admin kubeconfig is). */
const k8sDir = () => dirname(cluster().kubeconfig);
/** The kubelet runs with --root-dir=$GPUMON_K8S_DIR/kubelet: its pod-resources socket is there. */
const kubeletSocketDir = () => join(k8sDir(), 'kubelet', 'pod-resources');
/** The agent's spool on this machine: not the stack's /var/lib/gpumon/spool. */
const spoolDir = () => join(k8sDir(), 'pod-attribution-spool');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}
interface AgentPod {
  containers: {
    name: string;
    env?: { name: string; value?: string }[];
    securityContext?: Record<string, unknown>;
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  volumes: { name: string; hostPath?: { path: string; type?: string } }[];
}

/**
 * The agent's Namespace, ConfigMap and DaemonSet of `kustomize build` of the test overlay, plus `components`
 * (paths under deploy/kubernetes), made to run here: in AGENT_NS, the hostPaths of the kubelet's socket and
 * of the spool moved (this kubelet's --root-dir is not /var/lib/kubelet), the kubelet asked every second.
 * The securityContexts and mounts stay as rendered.
 */
async function agentObjects(components: string[] = []): Promise<K8sObject[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-pod-attribution-'));
  try {
    // kustomize takes relative paths only
    const rel = (p: string) => relative(dir, join(DEPLOY, p));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [rel('overlays/test')],
        components: components.map(rel),
      }),
    );
    const text = await kubectl(['kustomize', dir]);
    const all = parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
    const ns = all.find((o) => o.kind === 'Namespace' && o.metadata.name === 'gpu-monitoring-agent');
    const ds = all.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'gpumon-agent');
    assert.ok(ns && ds, 'the rendering has the agent namespace and DaemonSet');
    const pod = (ds.spec as { template: { spec: AgentPod } }).template.spec;
    const configMaps = new Set(
      pod.volumes.flatMap((v) => (v as { configMap?: { name: string } }).configMap?.name ?? []),
    );
    const cms = all.filter(
      (o) =>
        o.kind === 'ConfigMap' &&
        o.metadata.namespace === 'gpu-monitoring-agent' &&
        configMaps.has(o.metadata.name),
    );
    assert.equal(cms.length, configMaps.size, 'every ConfigMap the agent mounts');
    ns.metadata.name = AGENT_NS;
    for (const o of [ds, ...cms]) o.metadata.namespace = AGENT_NS;
    const moved: Record<string, string> = { [SHIPPED_SOCKET_DIR]: kubeletSocketDir(), [SPOOL]: spoolDir() };
    for (const v of pod.volumes) {
      const to = v.hostPath && moved[v.hostPath.path];
      if (v.hostPath && to) v.hostPath.path = to;
    }
    assert.deepEqual(
      pod.volumes
        .filter((v) => v.hostPath)
        .map((v) => v.hostPath?.path)
        .sort(),
      [kubeletSocketDir(), spoolDir(), '/proc', '/sys'].sort(),
    );
    const agent = pod.containers[0];
    assert.ok(agent);
    // No Kafka for this agent, whatever else the cluster runs (the stack's Kafka, kafka.gpu-monitoring.svc,
    // may be up from the stack's test): a name that does not resolve, so its samples go to the spool.
    agent.env = [
      ...(agent.env ?? []).filter((e) => e.name !== 'GPUMON_KAFKA_BROKERS'),
      { name: 'GPUMON_KAFKA_BROKERS', value: `kafka.${AGENT_NS}.svc:9092` },
      { name: 'GPUMON_KUBERNETES_REFRESH_MS', value: '1000' },
    ];
    return [ns, ...cms, ds];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function agentPodSpec(objects: K8sObject[]): AgentPod {
  const ds = objects.find((o) => o.kind === 'DaemonSet');
  assert.ok(ds);
  return (ds.spec as { template: { spec: AgentPod } }).template.spec;
}

async function apply(objects: K8sObject[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
}

/** Applies the agent's objects and waits until its pod of this rollout is ready; returns the pod's name. */
async function deployAgent(objects: K8sObject[]): Promise<string> {
  await apply(objects);
  await kubectl(
    ['rollout', 'status', '-n', AGENT_NS, 'daemonset/gpumon-agent', '--timeout=180s'],
    undefined,
    200_000,
  );
  return waitFor('one ready agent pod', 60_000, async () => {
    const out = await kubectl([
      'get',
      'pods',
      '-n',
      AGENT_NS,
      '-l',
      'app.kubernetes.io/name=gpumon-agent',
      '-o',
      'jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp} {.status.containerStatuses[0].ready}{"\\n"}{end}',
    ]);
    const ready = out
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, deleting, r]) => deleting === '' && r === 'true');
    return ready.length === 1 ? ready[0]?.[0] : undefined;
  });
}

/** Runs a command in the agent container (as the container's own user). */
function inAgent(pod: string, ...command: string[]): Promise<string> {
  return kubectl(['exec', '-n', AGENT_NS, pod, '-c', 'agent', '--', ...command]);
}

/** GET `path` of the agent's health server, from inside its pod (it listens on the pod's address only). */
function agentHttp(pod: string, path: '/metrics' | '/readyz'): Promise<string> {
  const script =
    'const e = process.env; fetch("http://" + e.GPUMON_HEALTH_HOST + ":" + e.GPUMON_HEALTH_PORT + process.argv[1])' +
    '.then((r) => r.text()).then((t) => process.stdout.write(t))';
  return inAgent(pod, 'node', '-e', script, path);
}

const agentMetrics = (pod: string) => agentHttp(pod, '/metrics');

function gauge(metrics: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** `namespace/pod/container` named on each GPU's dcgm-exporter series, by UUID ('' for none); all series agree. */
function holdersByUuid(metrics: string): Map<string, string> {
  const byUuid = new Map<string, Set<string>>();
  for (const line of metrics.split('\n')) {
    const m = /^DCGM_FI_\w+\{([^}]*)\} \S+$/.exec(line);
    if (!m?.[1]) continue;
    const labels = Object.fromEntries(
      [...m[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    const uuid = labels.UUID;
    assert.ok(uuid, line);
    const holder = labels.pod === undefined ? '' : `${labels.namespace}/${labels.pod}/${labels.container}`;
    byUuid.set(uuid, (byUuid.get(uuid) ?? new Set()).add(holder));
  }
  return new Map(
    [...byUuid].map(([uuid, holders]) => {
      assert.equal(holders.size, 1, `${uuid}: every series names the same pod (${[...holders]})`);
      return [uuid, [...holders][0] ?? ''];
    }),
  );
}

/** A pod whose one container, `cuda-job`, requests one nvidia.com/gpu and sleeps. */
function gpuPod(name: string): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: WORK_NS },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'cuda-job',
          image: BUSYBOX,
          imagePullPolicy: 'Never',
          command: ['sleep', '3600'],
          resources: { limits: { 'nvidia.com/gpu': '1', cpu: '10m', memory: '16Mi' } },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
}

async function runGpuPod(name: string): Promise<void> {
  await apply([gpuPod(name)]);
  await kubectl(
    ['wait', '-n', WORK_NS, `pod/${name}`, '--for=condition=Ready', '--timeout=120s'],
    undefined,
    150_000,
  );
}

async function deleteNamespaces(): Promise<void> {
  await kubectl(
    ['delete', 'namespace', AGENT_NS, WORK_NS, '--ignore-not-found', '--wait=true', '--timeout=120s'],
    undefined,
    150_000,
  );
}

describe("pod attribution on the test cluster's kubelet, the agent as the manifests ship it", () => {
  let plugin: FakeGpuPlugin | undefined;
  let agentPod = '';
  let uuids: string[] = [];

  before(async () => {
    assert.ok(
      statSync(join(kubeletSocketDir(), 'kubelet.sock')).isSocket(),
      "the kubelet's pod-resources socket",
    );
    await deleteNamespaces(); // what an interrupted run left
    rmSync(spoolDir(), { recursive: true, force: true });
    // the spool as the earlier releases left it on their nodes: handed to the agent's uid 1000
    mkdirSync(spoolDir());
    chownSync(spoolDir(), 1000, 1000);
    await kubectl(['create', 'namespace', WORK_NS]);
  });

  after(async () => {
    plugin?.stop();
    await deleteNamespaces();
    rmSync(spoolDir(), { recursive: true, force: true });
  });

  it('at uid 0 with every capability dropped, reads the real kubelet through the read-only socket mount', async () => {
    const objects = await agentObjects();
    const agent = agentPodSpec(objects).containers[0];
    assert.deepEqual(agent?.securityContext, {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.equal(agent?.volumeMounts?.find((m) => m.mountPath === SHIPPED_SOCKET_DIR)?.readOnly, true);
    agentPod = await deployAgent(objects);
    // what the runtime made of it: uid 0, no capability in any set, no_new_privs, seccomp filtering
    const status = await inAgent(agentPod, 'cat', '/proc/1/status');
    assert.match(status, /^Uid:\s+0\s+0\s+0\s+0$/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
      assert.match(status, new RegExp(`^${set}:\\s+0{16}$`, 'm'), set);
    }
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^Seccomp:\s+2$/m);
    const metrics = await waitFor('a List answered', 60_000, async () => {
      const m = await agentMetrics(agentPod);
      return gauge(m, 'gpumon_agent_pod_resources_up') === 1 && holdersByUuid(m).size > 0 ? m : undefined;
    });
    assert.equal(gauge(metrics, 'gpumon_agent_pod_resources_failures_total'), 0);
    const holders = holdersByUuid(metrics);
    uuids = [...holders.keys()].sort();
    assert.ok(uuids.length >= 2, `the simulated GPUs: ${uuids}`);
    assert.deepEqual([...new Set(holders.values())], [''], 'no pod holds a GPU yet');
    // the spool of uid 1000 was handed to root (root without capabilities could not write it), and is written
    assert.equal(statSync(spoolDir()).uid, 0);
    // The first samples wait for the Kafka client to give up on a broker that is not there (longer on a
    // loaded machine) before they are spooled.
    const spooled = await waitFor('samples spooled (no Kafka here)', 90_000, async () => {
      const n = gauge(await agentMetrics(agentPod), 'gpumon_agent_samples_spooled_total') ?? 0;
      return n > 0 ? n : undefined;
    });
    assert.ok(spooled > 0);
  });

  it("names the pod granted a GPU by the device plugin on exactly that GPU's samples", async () => {
    assert.ok(uuids.length >= 2, 'the agent runs (the test before)');
    plugin = await new FakeGpuPlugin('nvidia.com/gpu', uuids).start();
    await waitFor(`${uuids.length} nvidia.com/gpu allocatable on the node`, 60_000, async () => {
      const n = await kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[0].status.allocatable.nvidia\\.com/gpu}',
      ]);
      return n === String(uuids.length) ? n : undefined;
    });
    await runGpuPod('trainer-a');
    assert.equal(plugin.allocations.length, 1, 'the kubelet allocated one container');
    const granted = plugin.allocations[0] ?? [];
    assert.equal(granted.length, 1);
    const [gpu] = granted as [string];
    assert.ok(uuids.includes(gpu), gpu);
    const holders = await waitFor('the agent to name the pod', 30_000, async () => {
      const h = holdersByUuid(await agentMetrics(agentPod));
      return h.get(gpu) ? h : undefined;
    });
    assert.equal(holders.get(gpu), `${WORK_NS}/trainer-a/cuda-job`);
    for (const other of uuids.filter((u) => u !== gpu)) assert.equal(holders.get(other), '', other);
    const readyz = await agentHttp(agentPod, '/readyz');
    assert.match(readyz, /1 GPU devices held by pods/);
  });

  it('frees the GPU when its pod is deleted', async () => {
    assert.ok(plugin, 'the device plugin runs (the test before)');
    await kubectl(
      ['delete', 'pod', '-n', WORK_NS, 'trainer-a', '--wait=true', '--timeout=60s'],
      undefined,
      90_000,
    );
    const holders = await waitFor('no pod named on any GPU', 30_000, async () => {
      const h = holdersByUuid(await agentMetrics(agentPod));
      return [...h.values()].every((v) => v === '') ? h : undefined;
    });
    assert.deepEqual([...holders.keys()].sort(), uuids);
  });

  it('at uid 1000 (components/agent-non-root) is refused with POD_RESOURCES_FAILED and names no pod', async () => {
    assert.ok(plugin, 'the device plugin runs (the tests before)');
    await runGpuPod('trainer-b'); // a GPU held while the agent cannot ask
    agentPod = await deployAgent(await agentObjects(['components/agent-non-root']));
    assert.match(await inAgent(agentPod, 'cat', '/proc/1/status'), /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    const metrics = await waitFor('samples of every GPU', 60_000, async () => {
      const m = await agentMetrics(agentPod);
      return holdersByUuid(m).size === uuids.length ? m : undefined;
    });
    assert.equal(gauge(metrics, 'gpumon_agent_pod_resources_up'), 0);
    assert.ok((gauge(metrics, 'gpumon_agent_pod_resources_failures_total') ?? 0) >= 1);
    assert.deepEqual([...new Set(holdersByUuid(metrics).values())], [''], 'no pod named');
    const logs = await kubectl(['logs', '-n', AGENT_NS, agentPod, '-c', 'agent']);
    assert.match(logs, /POD_RESOURCES_FAILED/);
    assert.match(logs, /is not writable by uid 1000/);
    // the spool of the agent at uid 0 was handed to uid 1000 by the init container, and is written
    assert.equal((await inAgent(agentPod, 'stat', '-c', '%u:%g', SPOOL)).trim(), '1000:1000');
    const spooled = await waitFor('samples spooled (no Kafka here)', 90_000, async () => {
      const n = gauge(await agentMetrics(agentPod), 'gpumon_agent_samples_spooled_total') ?? 0;
      return n > 0 ? n : undefined;
    });
    assert.ok(spooled > 0);
  });
});
