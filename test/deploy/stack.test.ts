/**
 * The whole stack (deploy/kubernetes/stack/ and its overlays), rendered by the project's kubectl as
 * `kubectl apply -k` renders it, against what the issue asks and what the code it deploys reads: the
 * analytics CronJob's fields, the thresholds' ConfigMap loaded by gpumon's own loader, Services that select
 * pods and ports that exist, NetworkPolicies that open only ports their targets listen on, probes, pinned
 * images, restricted security contexts, resources that fit the documented cluster, the set-up Jobs' scripts
 * run against the ConfigMap, and the test overlay's images equal to what test/cluster-images builds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { CONFIG_FIELDS, type ConfigKey, envName } from '../../src/config/schema.ts';
import {
  AGENT_NAMESPACE,
  allContainers,
  containerPorts,
  cpuCores,
  find,
  kustomizations,
  longRunning,
  NAMESPACE,
  readText,
  rendered,
  run,
  selects,
  stackRenderings,
  type Workload,
  workloads,
} from './k8s-support.ts';
import {
  type Container,
  type CronJobSpec,
  type EnvVar,
  flagsOf,
  GRAFANA_DIR,
  type Manifest,
  memoryBytes,
  type PodSpec,
  ROOT,
} from './support.ts';

const scratch = mkdtempSync(join(tmpdir(), 'gpumon-stack-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const stack = () => rendered('stack').manifests;
const configText = (manifests: Manifest[], namespace = NAMESPACE): string => {
  const cm = manifests.find(
    (m) =>
      m.kind === 'ConfigMap' &&
      m.metadata.name.startsWith('gpumon-config') &&
      m.metadata.namespace === namespace,
  );
  const text = cm?.data?.['gpumon.yaml'];
  if (!text) throw new Error(`no ConfigMap gpumon-config with gpumon.yaml in ${namespace}`);
  return text;
};
const configFile = (manifests: Manifest[], name: string, namespace = NAMESPACE): string => {
  const path = join(scratch, `${name.replaceAll('/', '_')}-${namespace}.yaml`);
  writeFileSync(path, configText(manifests, namespace));
  return path;
};
/** A container's environment: literal values, and a stand-in for each valueFrom. */
function envOf(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP') env[e.name] = '10.1.2.3';
    else if (e.valueFrom?.fieldRef) env[e.name] = 'node-1';
    else if (e.valueFrom?.secretKeyRef) env[e.name] = 'from-a-secret';
  }
  return env;
}
const gpumonContainers = (manifests: Manifest[]) =>
  workloads(manifests).flatMap((w) =>
    w.pod.containers
      .filter((c) => c.env?.some((e) => e.name === 'GPUMON_CONFIG'))
      .map((c) => ({ w, c, namespace: w.manifest.metadata.namespace ?? '' })),
  );
const cronJob = (manifests: Manifest[], name = 'gpu-batch-analytics') =>
  find(manifests, 'CronJob', name).spec as unknown as CronJobSpec & {
    suspend?: boolean;
    startingDeadlineSeconds?: number;
    jobTemplate: { spec: { template: { metadata: { labels: Record<string, string> } } } };
  };

describe('the stack: objects and names', () => {
  it('renders every component under the names the users guide and the tests use', () => {
    const have = new Set(stack().map((m) => `${m.kind}/${m.metadata.name}`));
    for (const want of [
      'Namespace/gpu-monitoring',
      'Namespace/gpu-monitoring-agent',
      'StatefulSet/kafka',
      'Service/kafka',
      'Service/kafka-headless',
      'Job/kafka-topics',
      'StatefulSet/namenode',
      'Service/namenode',
      'StatefulSet/datanode',
      'Service/datanode',
      'Job/hdfs-init',
      'Deployment/spark-master',
      'Service/spark-master',
      'Deployment/spark-worker',
      'Deployment/spark-connect',
      'Service/spark-connect',
      'PersistentVolumeClaim/spark-scratch',
      'StatefulSet/influxdb',
      'Service/influxdb',
      'Job/influxdb-init',
      'Deployment/grafana',
      'Service/grafana',
      'PersistentVolumeClaim/grafana',
      'DaemonSet/gpumon-agent',
      'Deployment/gpumon-consume',
      'Deployment/gpumon-serve',
      'Service/gpumon-serve',
      'CronJob/gpu-batch-analytics',
      'CronJob/gpu-hourly-analytics',
      'PersistentVolumeClaim/gpumon-state',
      'NetworkPolicy/default-deny',
    ]) {
      assert.ok(have.has(want), `${want} missing`);
    }
  });

  it('puts every namespaced object in a namespace of the stack, the agent alone in its own', () => {
    for (const name of stackRenderings()) {
      for (const m of rendered(name).manifests) {
        if (m.kind === 'Namespace') continue;
        const ns = m.metadata.namespace;
        assert.ok(
          ns === NAMESPACE || ns === AGENT_NAMESPACE,
          `${name}: ${m.kind}/${m.metadata.name} in ${ns}`,
        );
        if (ns === AGENT_NAMESPACE) {
          assert.ok(
            ['DaemonSet', 'ConfigMap', 'NetworkPolicy', 'PodMonitor'].includes(m.kind),
            `${name}: ${m.kind}/${m.metadata.name} in ${AGENT_NAMESPACE}`,
          );
          if (m.kind === 'DaemonSet' || m.kind === 'PodMonitor')
            assert.equal(m.metadata.name, 'gpumon-agent');
        }
      }
    }
  });

  it('enforces the restricted Pod Security level, but on the agent namespace (privileged, justified)', () => {
    const ns = (name: string) => find(stack(), 'Namespace', name).metadata.labels ?? {};
    assert.equal(ns(NAMESPACE)['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(ns(AGENT_NAMESPACE)['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.match(readText('deploy', 'kubernetes', 'stack', '00-namespace.yaml'), /hostPath/);
  });
});

describe('the CronJob gpu-batch-analytics', () => {
  it('runs at 02:00 UTC, Forbid, 2 retries, a 2 h deadline, history 3/3, pods app=batch-analytics-pod', () => {
    const cron = cronJob(stack());
    assert.equal(cron.schedule, '0 2 * * *');
    assert.equal(cron.timeZone, 'UTC');
    assert.equal(cron.concurrencyPolicy, 'Forbid');
    assert.equal(cron.jobTemplate.spec.backoffLimit, 2);
    assert.equal(cron.jobTemplate.spec.activeDeadlineSeconds, 7200);
    assert.equal(cron.successfulJobsHistoryLimit, 3);
    assert.equal(cron.failedJobsHistoryLimit, 3);
    assert.equal(cron.jobTemplate.spec.template.metadata.labels.app, 'batch-analytics-pod');
    // the same as the embedded scheduler's defaults
    const d = (k: ConfigKey) => CONFIG_FIELDS[k].default;
    assert.equal(cron.schedule, d('schedule.cron'));
    assert.equal(cron.jobTemplate.spec.backoffLimit, d('schedule.retries'));
    assert.equal(cron.jobTemplate.spec.activeDeadlineSeconds, d('schedule.deadlineSeconds'));
  });

  it('runs gpumon analyze on the stack Spark Connect, with 1-2 CPU and 2-4Gi', () => {
    const [c] = cronJob(stack()).jobTemplate.spec.template.spec.containers;
    assert.ok(c);
    assert.deepEqual(c.args, ['analyze', '--engine', 'spark', '--spark-remote', 'sc://spark-connect:15002']);
    assert.equal(cpuCores(c.resources?.requests?.cpu), 1);
    assert.equal(cpuCores(c.resources?.limits?.cpu), 2);
    assert.equal(memoryBytes(c.resources?.requests?.memory ?? ''), 2 * 1024 ** 3);
    assert.equal(memoryBytes(c.resources?.limits?.memory ?? ''), 4 * 1024 ** 3);
    const svc = find(stack(), 'Service', 'spark-connect').spec as { ports: { port: number }[] };
    assert.ok(svc.ports.some((p) => p.port === 15002));
  });

  it('passes only flags gpumon accepts, in the stack and every overlay', () => {
    for (const name of stackRenderings()) {
      for (const { w, c } of gpumonContainers(rendered(name).manifests)) {
        const [command, ...args] = c.args ?? [];
        const accepted = flagsOf(command ?? '');
        for (const flag of args.filter((a) => a.startsWith('--'))) {
          assert.ok(accepted.has(flag), `${name} ${w.where}: ${flag} is no flag of gpumon ${command}`);
        }
      }
    }
  });

  it('runs DuckDB in the duckdb-analytics overlay, every minute on the day so far in the test overlay', () => {
    const [duck] = cronJob(rendered('overlays/duckdb-analytics').manifests).jobTemplate.spec.template.spec
      .containers;
    assert.deepEqual(duck?.args, ['analyze', '--engine', 'duckdb']);
    const test = cronJob(rendered('overlays/test').manifests);
    assert.equal(test.schedule, '*/1 * * * *');
    assert.deepEqual(test.jobTemplate.spec.template.spec.containers[0]?.args?.slice(-2), ['--date', 'today']);
  });
});

describe('the CronJob gpu-hourly-analytics', () => {
  const hourly = (name = 'stack') => cronJob(rendered(name).manifests, 'gpu-hourly-analytics');

  it("runs at minute 5 of every hour, UTC, as gpumon up's schedule.hourlyCron, never two at once", () => {
    const cron = hourly();
    assert.equal(cron.schedule, '5 * * * *');
    assert.equal(cron.schedule, CONFIG_FIELDS['schedule.hourlyCron'].default);
    assert.equal(cron.timeZone, 'UTC');
    assert.equal(cron.concurrencyPolicy, 'Forbid');
    assert.ok((cron.jobTemplate.spec.activeDeadlineSeconds ?? 0) < 3600, 'done before the next hour');
    assert.ok((cron.startingDeadlineSeconds ?? 0) > 0, 'a missed hour is left to the night, not piled up');
    assert.equal(cron.jobTemplate.spec.template.metadata.labels.app, 'hourly-analytics-pod');
  });

  it("computes the last closed hour on the stack's Spark Connect, with no run history volume", () => {
    const cron = hourly();
    const [c] = cron.jobTemplate.spec.template.spec.containers;
    assert.deepEqual(c?.args, [
      'analyze',
      '--engine',
      'spark',
      '--spark-remote',
      'sc://spark-connect:15002',
      '--hour',
      'last',
    ]);
    assert.ok(!cron.jobTemplate.spec.template.spec.volumes?.some((v) => v.persistentVolumeClaim));
    assert.ok(!c?.env?.some((e) => e.name.startsWith('GPUMON_INFLUXDB_')), 'partials go to HDFS only');
  });

  it('runs DuckDB in the duckdb-analytics overlay, and is suspended in the test overlay (the test runs it)', () => {
    const [duck] = hourly('overlays/duckdb-analytics').jobTemplate.spec.template.spec.containers;
    assert.deepEqual(duck?.args, ['analyze', '--engine', 'duckdb', '--hour', 'last']);
    assert.equal(hourly('overlays/test').suspend, true);
    assert.notEqual(hourly().suspend, true);
  });

  it('may reach Spark Connect and HDFS, and they let it in', () => {
    const policies = stack().filter((m) => m.kind === 'NetworkPolicy');
    const own = policies.find((p) => p.metadata.name === 'gpu-hourly-analytics');
    assert.ok(own, 'its egress policy');
    const text = JSON.stringify(own.spec);
    for (const to of ['spark-connect', 'namenode', 'datanode']) assert.match(text, new RegExp(to));
    for (const name of ['namenode', 'datanode', 'spark-connect']) {
      const p = policies.find((q) => q.metadata.name === name);
      assert.match(JSON.stringify(p?.spec), /gpu-hourly-analytics/, `${name} lets it in`);
    }
  });
});

describe("gpumon's ConfigMap", () => {
  it("holds the thresholds once, loaded by gpumon's own loader, and the stack's addresses", () => {
    const config = loadConfig({ file: configFile(stack(), 'stack') });
    assert.equal(config.alerts.tempSpikeCelsius, 5.0);
    assert.equal(config.alerts.highTempCelsius, 80.0);
    assert.equal(config.alerts.highLoadPercent, 90.0);
    assert.equal(config.alerts.highPowerPercent, 95);
    assert.equal(config.kafka.brokers, 'kafka:9092');
    assert.equal(config.influxdb.url, 'http://influxdb:8086');
    assert.equal(config.analytics.engine, 'spark');
    assert.equal(config.analytics.sparkRemote, 'sc://spark-connect:15002');
    assert.match(config.archive.path, /^webhdfs:\/\/namenode:9870\//);
    const text = readText('deploy', 'kubernetes', 'stack', 'gpumon', 'gpumon.yaml');
    assert.equal((text.match(/highTempCelsius/g) ?? []).length, 1, 'one place for the thresholds');
  });

  it('is the same file in both namespaces, read by the agent, consume, serve and the analytics', () => {
    for (const name of stackRenderings()) {
      const m = rendered(name).manifests;
      assert.equal(configText(m, NAMESPACE), configText(m, AGENT_NAMESPACE), name);
      const commands = new Set<string>();
      for (const { w, c, namespace } of gpumonContainers(m)) {
        const file = c.env?.find((e) => e.name === 'GPUMON_CONFIG')?.value ?? '';
        const mount = c.volumeMounts?.find((v) => file.startsWith(`${v.mountPath}/`));
        const volume = w.pod.volumes?.find((v) => v.name === mount?.name);
        assert.match(volume?.configMap?.name ?? '', /^gpumon-config/, `${name} ${w.where}`);
        const config = loadConfig({ file: configFile(m, name, namespace), env: envOf(c) });
        commands.add(c.args?.[0] ?? '');
        if (c.args?.[0] === 'analyze' || c.args?.[0] === 'consume')
          assert.equal(config.alerts.highTempCelsius, 80);
      }
      assert.deepEqual([...commands].sort(), ['agent', 'analyze', 'consume', 'serve'], name);
    }
  });

  it('changes what the alerts and the analytics use when it changes: they read alerts.* from it', () => {
    const edited = configText(stack()).replace(/highTempCelsius: 80\.0/, 'highTempCelsius: 77.5');
    const path = join(scratch, 'edited.yaml');
    writeFileSync(path, edited);
    assert.equal(loadConfig({ file: path }).alerts.highTempCelsius, 77.5);
    // the analyses take their thresholds from the configuration (src/analytics/analyses.ts)
    assert.match(
      readText('src', 'analytics', 'analyses.ts'),
      /'alerts\.highTempCelsius': config\.alerts\.highTempCelsius/,
    );
    // and the ConfigMap's name is a hash of its content: an edit rolls every pod that reads it
    const names = (text: string) => text.match(/gpumon-config-[a-z0-9]+/g);
    assert.ok(names(rendered('stack').text));
  });

  it('sets the agent to the simulated source in the test overlay only, and health ports everywhere', () => {
    for (const name of stackRenderings()) {
      for (const { w, c } of gpumonContainers(rendered(name).manifests)) {
        const env = envOf(c);
        if (c.args?.[0] === 'agent') {
          assert.equal(env[envName('source.type')], name === 'overlays/test' ? 'sim' : undefined, name);
        }
        if (c.args?.[0] === 'agent' || c.args?.[0] === 'consume') {
          assert.equal(env.GPUMON_HEALTH_PORT, '8081', `${name} ${w.where}`);
          const host = c.env?.find((e) => e.name === 'GPUMON_HEALTH_HOST');
          assert.equal(host?.valueFrom?.fieldRef?.fieldPath, 'status.podIP');
          assert.ok(c.ports?.some((p) => p.name === 'health' && p.containerPort === 8081));
          assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
          assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
        }
      }
    }
  });

  it('runs the agent on GPU nodes only (the test overlay: every node, no NVIDIA runtime)', () => {
    const pod = (name: string) =>
      (find(rendered(name).manifests, 'DaemonSet', 'gpumon-agent').spec as { template: { spec: PodSpec } })
        .template.spec;
    assert.deepEqual(pod('stack').nodeSelector, { 'nvidia.com/gpu.present': 'true' });
    assert.equal(pod('stack').runtimeClassName, 'nvidia');
    assert.equal(pod('overlays/test').nodeSelector, undefined);
    assert.equal(pod('overlays/test').runtimeClassName, undefined);
  });

  it("gives every rendering's agent the kubelet's pod-resources directory, read-only (pod attribution)", () => {
    for (const name of stackRenderings()) {
      const pod = (
        find(rendered(name).manifests, 'DaemonSet', 'gpumon-agent').spec as { template: { spec: PodSpec } }
      ).template.spec;
      const agent = pod.containers.find((c) => c.args?.[0] === 'agent');
      const mount = agent?.volumeMounts?.find((m) => m.mountPath === '/var/lib/kubelet/pod-resources');
      assert.equal(mount?.readOnly, true, `${name}: read-only pod-resources mount`);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      assert.equal(volume?.hostPath?.path, '/var/lib/kubelet/pod-resources', name);
    }
  });

  it("gives every rendering's agent the node's /proc and /sys, read-only at GPUMON_SOURCE_HOST_ROOT (host metrics)", () => {
    for (const name of stackRenderings()) {
      const pod = (
        find(rendered(name).manifests, 'DaemonSet', 'gpumon-agent').spec as { template: { spec: PodSpec } }
      ).template.spec;
      const agent = pod.containers.find((c) => c.args?.[0] === 'agent');
      const root = agent?.env?.find((e) => e.name === 'GPUMON_SOURCE_HOST_ROOT')?.value;
      assert.equal(root, '/host', name);
      for (const dir of ['proc', 'sys']) {
        const mount: { name: string; readOnly?: boolean } | undefined = agent?.volumeMounts?.find(
          (m) => m.mountPath === `${root}/${dir}`,
        );
        assert.equal(mount?.readOnly, true, `${name}: read-only /${dir}`);
        const volume = pod.volumes?.find((v) => v.name === mount?.name);
        assert.equal(volume?.hostPath?.path, `/${dir}`, name);
      }
    }
  });
});

/** The address a host:port of the configuration names is a Service of the stack with that port. */
function assertService(manifests: Manifest[], host: string, port: number, what: string) {
  const svc = manifests.find((m) => m.kind === 'Service' && m.metadata.name === host);
  assert.ok(svc, `${what}: no Service ${host}`);
  const ports = (svc.spec as { ports: { port: number }[] }).ports.map((p) => p.port);
  assert.ok(ports.includes(port), `${what}: Service ${host} has no port ${port} (${ports})`);
}

describe('Services and ports', () => {
  it('every Service selects a pod template of its namespace, and its target ports exist there', () => {
    for (const name of stackRenderings()) {
      const m = rendered(name).manifests;
      const ws = workloads(m);
      for (const svc of m.filter((x) => x.kind === 'Service')) {
        const spec = svc.spec as {
          selector: Record<string, string>;
          ports: { targetPort: string | number }[];
        };
        const targets = ws.filter(
          (w) => w.manifest.metadata.namespace === svc.metadata.namespace && selects(spec.selector, w.labels),
        );
        assert.ok(targets.length > 0, `${name}: Service ${svc.metadata.name} selects no pod`);
        assert.ok(Object.keys(spec.selector).length > 0);
        for (const p of spec.ports) {
          for (const t of targets) {
            const ports = containerPorts(t.pod);
            assert.ok(
              ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort),
              `${name}: Service ${svc.metadata.name} targets ${p.targetPort}, not a port of ${t.where}`,
            );
          }
        }
      }
    }
  });

  it("the configuration's addresses are the stack's Services", () => {
    const m = stack();
    const config = loadConfig({ file: configFile(m, 'stack') });
    const [kafkaHost, kafkaPort] = (config.kafka.brokers.split(',')[0] ?? '').split(':');
    assertService(m, kafkaHost ?? '', Number(kafkaPort), 'kafka.brokers');
    const influx = new URL(config.influxdb.url);
    assertService(m, influx.hostname, Number(influx.port), 'influxdb.url');
    const archive = new URL(config.archive.path);
    assertService(m, archive.hostname, Number(archive.port), 'archive.path');
    const spark = /^sc:\/\/([^:/]+):(\d+)/.exec(config.analytics.sparkRemote);
    assertService(m, spark?.[1] ?? '', Number(spark?.[2]), 'analytics.sparkRemote');
    // the agent, in its own namespace, reaches Kafka by its cluster name
    const agent = find(m, 'DaemonSet', 'gpumon-agent');
    const env = envOf(
      (agent.spec as { template: { spec: PodSpec } }).template.spec.containers[0] as Container,
    );
    assert.equal(env.GPUMON_KAFKA_BROKERS, `kafka.${NAMESPACE}.svc:9092`);
  });

  it('every NetworkPolicy opens only ports its pods (ingress) or its destinations (egress) listen on', () => {
    for (const name of stackRenderings()) {
      const m = rendered(name).manifests;
      const ws = workloads(m);
      const podsIn = (ns: string | undefined, sel: Record<string, string> | undefined) =>
        ws.filter((w) => w.manifest.metadata.namespace === ns && selects(sel, w.labels));
      const hasPort = (w: Workload, port: number) =>
        allContainers(w.pod).some((c) => c.ports?.some((p) => p.containerPort === port));
      for (const np of m.filter((x) => x.kind === 'NetworkPolicy')) {
        type Peer = {
          podSelector?: { matchLabels?: Record<string, string> };
          namespaceSelector?: { matchLabels?: Record<string, string> };
        };
        type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port: number }[] };
        const spec = np.spec as {
          podSelector: { matchLabels?: Record<string, string> };
          ingress?: Rule[];
          egress?: Rule[];
        };
        const own = podsIn(np.metadata.namespace, spec.podSelector.matchLabels);
        const where = `${name}: NetworkPolicy ${np.metadata.namespace}/${np.metadata.name}`;
        assert.ok(own.length > 0, `${where} selects no pod`);
        for (const rule of spec.ingress ?? []) {
          for (const { port } of rule.ports ?? []) {
            for (const w of own)
              assert.ok(hasPort(w, port), `${where}: ingress ${port} is no port of ${w.where}`);
          }
        }
        for (const rule of spec.egress ?? []) {
          for (const peer of rule.to ?? []) {
            const nsLabels = peer.namespaceSelector?.matchLabels;
            if (nsLabels?.['kubernetes.io/metadata.name'] === 'kube-system') continue; // DNS
            const ns = nsLabels
              ? m.find((x) => x.kind === 'Namespace' && selects(nsLabels, x.metadata.labels ?? {}))?.metadata
                  .name
              : np.metadata.namespace;
            const targets = podsIn(ns, peer.podSelector?.matchLabels);
            assert.ok(targets.length > 0, `${where}: egress to no pod`);
            for (const { port } of rule.ports ?? []) {
              for (const t of targets)
                assert.ok(hasPort(t, port), `${where}: egress ${port} is no port of ${t.where}`);
            }
          }
        }
      }
      // default deny in both namespaces
      for (const ns of [NAMESPACE, AGENT_NAMESPACE]) {
        const deny = find(m, 'NetworkPolicy', 'default-deny', ns).spec as {
          podSelector: object;
          policyTypes: string[];
        };
        assert.deepEqual(deny.podSelector, {});
        assert.deepEqual([...deny.policyTypes].sort(), ['Egress', 'Ingress']);
      }
    }
  });
});

describe("gpumon serve's live fleet", () => {
  it("reads InfluxDB (serve.live influxdb) as the read-only user of the Secret gpumon-serve-influxdb, not consume's", () => {
    for (const name of stackRenderings()) {
      const m = rendered(name).manifests;
      const serve = gpumonContainers(m).find(({ c }) => c.args?.[0] === 'serve');
      assert.ok(serve, `${name}: a serve container`);
      const config = loadConfig({ file: configFile(m, name), env: envOf(serve.c) });
      assert.equal(config.serve.live, 'influxdb', name);
      assert.equal(config.influxdb.url, 'http://influxdb:8086', name);
      for (const key of ['influxdb.username', 'influxdb.password'] as const) {
        const variable: EnvVar | undefined = serve.c.env?.find((e) => e.name === envName(key));
        assert.equal(variable?.valueFrom?.secretKeyRef?.name, 'gpumon-serve-influxdb', `${name}: ${key}`);
      }
    }
  });

  it('may reach influxdb:8086: the egress of gpumon-serve and the ingress of influxdb both admit it', () => {
    type Peer = { podSelector?: { matchLabels?: Record<string, string> } };
    type Rule = { from?: Peer[]; to?: Peer[]; ports?: { port: number }[] };
    const admits = (rules: Rule[] | undefined, side: 'from' | 'to', app: string, port: number) =>
      (rules ?? []).some(
        (r) =>
          (r.ports ?? []).some((p) => p.port === port) &&
          (r[side] ?? []).some((peer) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === app),
      );
    for (const name of stackRenderings()) {
      const policies = rendered(name)
        .manifests.filter((x) => x.kind === 'NetworkPolicy' && x.metadata.namespace === NAMESPACE)
        .map(
          (x) =>
            x.spec as {
              podSelector: { matchLabels?: Record<string, string> };
              ingress?: Rule[];
              egress?: Rule[];
            },
        );
      const of = (app: string) =>
        policies.filter((p) => p.podSelector.matchLabels?.['app.kubernetes.io/name'] === app);
      assert.ok(
        of('gpumon-serve').some((p) => admits(p.egress, 'to', 'influxdb', 8086)),
        `${name}: gpumon-serve -> influxdb:8086 (egress)`,
      );
      assert.ok(
        of('influxdb').some((p) => admits(p.ingress, 'from', 'gpumon-serve', 8086)),
        `${name}: gpumon-serve -> influxdb:8086 (ingress)`,
      );
    }
  });
});

/** A pod template's annotations. */
function podAnnotations(m: Manifest): Record<string, string> {
  const spec = m.spec as {
    template?: { metadata?: { annotations?: Record<string, string> } };
    jobTemplate?: { spec: { template: { metadata?: { annotations?: Record<string, string> } } } };
  };
  return (spec.template ?? spec.jobTemplate?.spec.template)?.metadata?.annotations ?? {};
}

type PolicyPeer = {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: unknown;
};
type IngressRule = { from?: PolicyPeer[]; ports?: { port: number | string; protocol?: string }[] };
/**
 * The ports of the stack's pods that a pod with `podLabels` in a namespace with `nsLabels` (not a namespace
 * of the stack) may open, by the rendered NetworkPolicies: `Kind/name port` each. Kubernetes' semantics: a
 * pod selected by no policy with Ingress is open, else the union of the rules of the policies selecting it.
 */
function admittedFrom(
  manifests: Manifest[],
  nsLabels: Record<string, string>,
  podLabels: Record<string, string>,
) {
  const policies = manifests.filter((x) => x.kind === 'NetworkPolicy');
  const admitted = new Set<string>();
  for (const w of workloads(manifests)) {
    const ns = w.manifest.metadata.namespace;
    const selecting = policies
      .filter((np) => np.metadata.namespace === ns)
      .map(
        (np) =>
          np.spec as {
            podSelector: { matchLabels?: Record<string, string> };
            policyTypes: string[];
            ingress?: IngressRule[];
          },
      )
      .filter(
        (spec) => spec.policyTypes.includes('Ingress') && selects(spec.podSelector.matchLabels, w.labels),
      );
    assert.ok(selecting.length > 0, `${w.where}: no Ingress policy (default-deny) selects it`);
    for (const port of containerPorts(w.pod).map((p) => p.containerPort)) {
      const open = selecting.some((spec) =>
        (spec.ingress ?? []).some(
          (rule) =>
            (rule.ports === undefined || rule.ports.some((p) => p.port === port)) &&
            (rule.from === undefined ||
              rule.from.some(
                (peer) =>
                  peer.ipBlock === undefined &&
                  peer.namespaceSelector !== undefined && // without it: pods of the policy's own namespace
                  selects(peer.namespaceSelector.matchLabels, nsLabels) &&
                  selects(peer.podSelector?.matchLabels, podLabels),
              )),
        ),
      );
      if (open) admitted.add(`${w.where} ${port}`);
    }
  }
  return [...admitted].sort();
}

describe('Prometheus scraping gpumon', () => {
  const scraperNamespace = {
    'kubernetes.io/metadata.name': 'monitoring',
    'gpumon.io/metrics-scraper': 'true',
  };
  const prometheusPod = { 'app.kubernetes.io/name': 'prometheus' };

  it("annotates the agent and consume pods with /metrics on the port they declare and gpumon's health server listens on", () => {
    for (const name of stackRenderings()) {
      const m = rendered(name).manifests;
      const roles = new Set<string>();
      for (const { w, c } of gpumonContainers(m)) {
        const role = c.args?.[0] ?? '';
        const annotations = podAnnotations(w.manifest);
        if (role !== 'agent' && role !== 'consume') {
          // serve's /metrics needs the bearer token, which an annotation cannot give (docs/prometheus.md)
          assert.equal(annotations['prometheus.io/scrape'], undefined, `${name} ${w.where}`);
          continue;
        }
        roles.add(role);
        assert.equal(annotations['prometheus.io/scrape'], 'true', `${name} ${w.where}`);
        assert.equal(annotations['prometheus.io/path'], '/metrics', `${name} ${w.where}`);
        const port = Number(annotations['prometheus.io/port']);
        assert.ok(
          c.ports?.some((p) => p.containerPort === port),
          `${name} ${w.where}: prometheus.io/port ${port} is no port of the container`,
        );
        const config = loadConfig({
          file: configFile(m, `${name}-${role}`, w.manifest.metadata.namespace),
          env: envOf(c),
        });
        assert.equal(config.health.port, port, `${name} ${w.where}: health.port`);
      }
      assert.deepEqual([...roles].sort(), ['agent', 'consume'], name);
    }
  });

  it('admits namespaces labelled gpumon.io/metrics-scraper=true to the metrics ports, and to nothing else', () => {
    for (const name of stackRenderings()) {
      const m = rendered(name).manifests;
      assert.deepEqual(
        admittedFrom(m, scraperNamespace, prometheusPod),
        [
          'DaemonSet/gpumon-agent 8081',
          'Deployment/gpumon-consume 8081',
          'Deployment/gpumon-serve 8080', // its /metrics with the token
        ],
        name,
      );
      // a namespace without the label: nothing at all
      assert.deepEqual(
        admittedFrom(m, { 'kubernetes.io/metadata.name': 'monitoring' }, prometheusPod),
        [],
        name,
      );
    }
  });

  it('leaves PodMonitors out of the stack, and the prometheus-operator overlay adds them for the annotated ports', () => {
    for (const name of stackRenderings().filter((n) => n !== 'overlays/prometheus-operator')) {
      assert.deepEqual(
        rendered(name).manifests.filter((x) => x.kind === 'PodMonitor'),
        [],
        `${name}: the CRD may not exist`,
      );
    }
    const m = rendered('overlays/prometheus-operator').manifests;
    const monitors = m.filter((x) => x.kind === 'PodMonitor');
    assert.deepEqual(monitors.map((x) => `${x.metadata.namespace}/${x.metadata.name}`).sort(), [
      `${AGENT_NAMESPACE}/gpumon-agent`,
      `${NAMESPACE}/gpumon-consume`,
      `${NAMESPACE}/gpumon-serve`,
    ]);
    for (const pm of monitors) {
      assert.equal(pm.apiVersion, 'monitoring.coreos.com/v1');
      const spec = pm.spec as {
        selector: { matchLabels: Record<string, string> };
        podMetricsEndpoints: {
          port: string;
          path: string;
          authorization?: { type: string; credentials: { name: string; key: string } };
        }[];
      };
      const targets = workloads(m).filter(
        (w) =>
          w.manifest.metadata.namespace === pm.metadata.namespace &&
          selects(spec.selector.matchLabels, w.labels),
      );
      assert.equal(targets.length, 1, `PodMonitor ${pm.metadata.name} selects one workload`);
      const target = targets[0] as Workload;
      const [endpoint] = spec.podMetricsEndpoints;
      assert.ok(endpoint);
      assert.equal(endpoint.path, '/metrics');
      const port = containerPorts(target.pod).find((p) => p.name === endpoint.port);
      assert.ok(port, `PodMonitor ${pm.metadata.name}: port ${endpoint.port} is no port of ${target.where}`);
      const annotations = podAnnotations(target.manifest);
      if (target.where === 'Deployment/gpumon-serve') {
        // the token of the Secret that serve reads, in the PodMonitor's namespace
        assert.deepEqual(endpoint.authorization, {
          type: 'Bearer',
          credentials: { name: 'gpumon-serve-token', key: 'token' },
        });
        assert.ok(target.pod.volumes?.some((v) => v.secret?.secretName === 'gpumon-serve-token'));
      } else {
        assert.equal(String(port.containerPort), annotations['prometheus.io/port'], pm.metadata.name);
        assert.equal(endpoint.authorization, undefined);
      }
      assert.ok(
        admittedFrom(m, scraperNamespace, prometheusPod).includes(`${target.where} ${port.containerPort}`),
        `PodMonitor ${pm.metadata.name}: the NetworkPolicies admit the scraper to ${port.containerPort}`,
      );
    }
  });
});

describe('every workload', () => {
  it('has readiness and liveness probes on every long-running container, on ports it has', () => {
    for (const name of [...stackRenderings(), 'byo/base', 'byo/hdfs-spark']) {
      for (const w of workloads(rendered(name).manifests).filter(longRunning)) {
        for (const c of w.pod.containers) {
          for (const probe of [c.readinessProbe, c.livenessProbe]) {
            assert.ok(probe, `${name} ${w.where}/${c.name}: a probe is missing`);
            const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
            assert.ok(
              c.ports?.some((p) => p.name === port || p.containerPort === port),
              `${name} ${w.where}/${c.name}: probe port ${port}`,
            );
          }
        }
      }
    }
  });

  it("runs the agent with decision 0001's memory settings in every rendering, bring-your-own included", () => {
    for (const name of [...stackRenderings(), 'byo/base']) {
      const agents = workloads(rendered(name).manifests).filter((w) => w.where === 'DaemonSet/gpumon-agent');
      assert.equal(agents.length, 1, `${name}: one agent DaemonSet`);
      const agent = agents[0]?.pod.containers.find((c) => c.name === 'agent');
      const env = new Map(agent?.env?.map((e) => [e.name, e.value]));
      assert.equal(env.get('NODE_OPTIONS'), '--max-semi-space-size=1', name);
      assert.equal(env.get('MALLOC_ARENA_MAX'), '2', name);
    }
  });

  it('pins every image by version (no :latest, no untagged image)', () => {
    const images = new Set<string>();
    for (const name of [...stackRenderings(), 'byo/base', 'byo/hdfs-spark']) {
      for (const w of workloads(rendered(name).manifests)) {
        for (const c of allContainers(w.pod)) {
          assert.match(
            c.image,
            /^[^:@]+(:[0-9][\w.-]*|@sha256:[0-9a-f]{64})$/,
            `${name} ${w.where}/${c.name}: ${c.image}`,
          );
          assert.doesNotMatch(c.image, /:latest$/);
          if (name === 'stack') images.add(c.image);
        }
      }
    }
    const version = JSON.parse(readText('package.json')).version as string;
    assert.deepEqual([...images].sort(), [
      'apache/hadoop:3.4.1',
      'apache/kafka:4.1.1',
      'apache/spark:4.0.1',
      `gpumon:${version}`,
      'grafana/grafana:12.3.0',
      'influxdb:1.11.8',
    ]);
  });

  it("uses in the test overlay exactly the images test/cluster-images/build.sh builds (and Grafana's, unused)", () => {
    const listed = run('bash', [join(ROOT, 'test', 'cluster-images', 'build.sh'), 'list']);
    assert.equal(listed.status, 0, listed.stderr);
    const built = listed.stdout.trim().split('\n').sort();
    const m = rendered('overlays/test').manifests;
    const used = new Set(workloads(m).flatMap((w) => allContainers(w.pod).map((c) => c.image)));
    const grafana = find(m, 'Deployment', 'grafana');
    assert.equal((grafana.spec as { replicas: number }).replicas, 0, 'no Grafana image can be built here');
    used.delete('localhost/grafana:12.3.0');
    assert.deepEqual([...used].sort(), built);
    for (const image of used) assert.match(image, /^localhost\//);
  });

  it('runs restricted: non-root, no escalation, no capabilities, RuntimeDefault seccomp, read-only root, no token', () => {
    for (const name of stackRenderings()) {
      for (const w of workloads(rendered(name).manifests)) {
        const where = `${name} ${w.where}`;
        const pod = w.pod.securityContext ?? {};
        assert.equal(w.pod.automountServiceAccountToken, false, `${where}: automountServiceAccountToken`);
        assert.equal(pod.runAsNonRoot, true, where);
        assert.ok(
          pod.runAsUser && pod.runAsUser > 0 && pod.runAsGroup !== undefined,
          `${where}: runAsUser/Group`,
        );
        assert.equal(pod.seccompProfile?.type, 'RuntimeDefault', where);
        for (const c of allContainers(w.pod)) {
          const s = c.securityContext ?? {};
          assert.equal(s.allowPrivilegeEscalation, false, `${where}/${c.name}`);
          assert.equal(s.readOnlyRootFilesystem, true, `${where}/${c.name}`);
          assert.deepEqual(s.capabilities?.drop, ['ALL'], `${where}/${c.name}`);
          assert.notEqual(s.privileged, true);
          assert.equal(s.seccompProfile, undefined, `${where}/${c.name}: the pod's RuntimeDefault applies`);
          if (w.where === 'DaemonSet/gpumon-agent') continue; // its exact posture: the next test
          assert.notEqual(s.runAsUser, 0, `${where}/${c.name} runs as root`);
          assert.notEqual(s.runAsNonRoot, false, `${where}/${c.name}`);
          assert.equal((s.capabilities?.add ?? []).length, 0, `${where}/${c.name} adds capabilities`);
        }
        if (w.manifest.metadata.namespace === NAMESPACE) {
          assert.ok(
            !(w.pod.volumes ?? []).some((v) => v.hostPath),
            `${where}: hostPath in a restricted namespace`,
          );
        }
      }
    }
  });

  it('runs the agent container as uid 0 with no capability (decision 0010), uid 1000 in overlays/agent-non-root', () => {
    for (const k of kustomizations()) {
      const ds = find(rendered(k.name).manifests, 'DaemonSet', 'gpumon-agent');
      const pod = (ds.spec as { template: { spec: PodSpec } }).template.spec;
      const where = `${k.name} DaemonSet/gpumon-agent`;
      // uid 0 (or 1000) exactly where wanted: the pod's default stays non-root for any other container
      assert.deepEqual(
        { ...pod.securityContext },
        { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        where,
      );
      const uid = k.name === 'overlays/agent-non-root' ? 1000 : 0;
      const [agent, ...others] = pod.containers;
      assert.equal(others.length, 0, `${where}: one container`);
      assert.deepEqual(
        { ...agent?.securityContext },
        {
          runAsUser: uid,
          runAsGroup: uid,
          runAsNonRoot: uid !== 0,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        },
        `${where}/agent: uid ${uid}, every capability dropped and none added, no escalation, read-only root`,
      );
      // the one init container hands the spool to the agent's uid:gid, with CHOWN alone
      assert.deepEqual(
        (pod.initContainers ?? []).map((c) => ({
          name: c.name,
          command: c.command,
          securityContext: c.securityContext,
        })),
        [
          {
            name: 'spool-owner',
            command: ['chown', '-R', `${uid}:${uid}`, '/var/lib/gpumon/spool'],
            securityContext: {
              runAsNonRoot: false,
              runAsUser: 0,
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'], add: ['CHOWN'] },
            },
          },
        ],
        where,
      );
      const spool = agent?.volumeMounts?.find((m) => m.mountPath === '/var/lib/gpumon/spool');
      assert.equal(pod.volumes?.find((v) => v.name === spool?.name)?.hostPath?.path, '/var/lib/gpumon/spool');
      // root reaches the kubelet's socket, nothing of the kubelet's it could change
      const podResources = agent?.volumeMounts?.find((m) => m.mountPath === '/var/lib/kubelet/pod-resources');
      assert.equal(podResources?.readOnly, true, `${where}: the pod-resources mount is read-only`);
      assert.ok(
        (agent?.volumeMounts ?? []).every((m) => m.readOnly || ['spool', 'tmp'].includes(m.name)),
        `${where}: writable mounts ${JSON.stringify(agent?.volumeMounts)}`,
      );
      const annotations = ds.metadata.annotations ?? {};
      assert.equal(
        Object.values(annotations).some((v) => v.startsWith('CKV_K8S_23=')),
        uid === 0,
        `${where}: checkov's root-container check skipped where the agent is root, and only there`,
      );
    }
  });

  it('keeps the agent namespace privileged in every rendering: baseline already forbids the hostPaths', () => {
    for (const name of stackRenderings()) {
      const labels = find(rendered(name).manifests, 'Namespace', AGENT_NAMESPACE).metadata.labels ?? {};
      assert.equal(labels['pod-security.kubernetes.io/enforce'], 'privileged', name);
      assert.equal(labels['pod-security.kubernetes.io/audit'], 'restricted', name);
    }
  });

  it('has requests and limits on every container, within the minimum cluster (8 CPU, 16Gi)', () => {
    const sum = (name: string) => {
      let cpu = 0;
      let memory = 0;
      for (const w of workloads(rendered(name).manifests)) {
        for (const c of allContainers(w.pod)) {
          const r = c.resources;
          for (const k of ['cpu', 'memory']) {
            assert.ok(
              r?.requests?.[k] && r.limits?.[k],
              `${name} ${w.where}/${c.name}: ${k} request and limit`,
            );
          }
          assert.ok(
            cpuCores(r?.requests?.cpu) <= cpuCores(r?.limits?.cpu),
            `${name} ${w.where}/${c.name}: cpu`,
          );
          assert.ok(
            memoryBytes(r?.requests?.memory ?? '') <= memoryBytes(r?.limits?.memory ?? ''),
            `${name} ${w.where}/${c.name}: memory`,
          );
        }
        // what runs at once: the long-running containers (replicas of them) and the analytics Job
        if (!longRunning(w) && w.manifest.kind !== 'CronJob') continue;
        const replicas = (w.manifest.spec as { replicas?: number }).replicas ?? 1;
        for (const c of w.pod.containers) {
          cpu += replicas * cpuCores(c.resources?.requests?.cpu);
          memory += replicas * memoryBytes(c.resources?.requests?.memory ?? '0');
        }
      }
      return { cpu, memory };
    };
    const s = sum('stack');
    assert.ok(s.cpu <= 8, `the stack requests ${s.cpu} CPU`);
    assert.ok(s.memory <= 16 * 1024 ** 3, `the stack requests ${s.memory / 1024 ** 3} GiB`);
    const t = sum('overlays/test');
    assert.ok(t.cpu <= 1.2, `the test overlay requests ${t.cpu} CPU: one 2-core node runs it`);
    assert.ok(t.memory <= 8 * 1024 ** 3, `the test overlay requests ${t.memory / 1024 ** 3} GiB`);
    const worker = find(stack(), 'Deployment', 'spark-worker');
    const wc = (worker.spec as { replicas: number; template: { spec: PodSpec } }).template.spec.containers[0];
    assert.equal((worker.spec as { replicas: number }).replicas, 2);
    assert.equal(cpuCores(wc?.resources?.requests?.cpu), 2);
    assert.equal(memoryBytes(wc?.resources?.requests?.memory ?? ''), 2 * 1024 ** 3);
  });

  it('keeps its data on volumes of the documented sizes', () => {
    const m = stack();
    const claim = (kind: string, name: string) => {
      const o = find(m, kind, name);
      const spec =
        kind === 'StatefulSet'
          ? (o.spec as { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] })
              .volumeClaimTemplates[0]?.spec
          : (o.spec as { resources: { requests: { storage: string } } });
      return spec?.resources.requests.storage;
    };
    assert.equal(claim('StatefulSet', 'namenode'), '10Gi');
    assert.equal(claim('StatefulSet', 'datanode'), '50Gi');
    assert.equal(claim('StatefulSet', 'influxdb'), '20Gi');
    assert.equal(claim('StatefulSet', 'kafka'), '5Gi');
    assert.equal(claim('PersistentVolumeClaim', 'grafana'), '5Gi');
    assert.equal(claim('PersistentVolumeClaim', 'spark-scratch'), '5Gi');
    assert.equal(claim('PersistentVolumeClaim', 'gpumon-state'), '1Gi');
    const docs = readText('docs', 'deployment.md');
    for (const size of ['10Gi', '50Gi', '20Gi', '5Gi']) assert.ok(docs.includes(size), `docs: ${size}`);
  });
});

/** The shell script of a container (`sh -c <script>`), with /etc/gpumon/gpumon.yaml moved to `config`. */
function scriptOf(c: Container, config: string): string {
  const script = c.command?.[2];
  assert.ok(script && /^\/bin\/(ba)?sh$/.test(c.command?.[0] ?? ''), `${c.name}: not a shell script`);
  return script.replaceAll('/etc/gpumon/gpumon.yaml', config);
}
/** A stub command that appends its arguments to `log` and prints `output`. */
function stub(dir: string, name: string, log: string, output = ''): void {
  writeFileSync(join(dir, name), `#!/bin/sh\necho "${name} $*" >>"${log}"\nprintf '%s' "${output}"\n`, {
    mode: 0o755,
  });
}

describe('the set-up scripts, run against the ConfigMap with stand-in tools', () => {
  const m = stack();
  const config = configFile(m, 'scripts');
  const loaded = loadConfig({ file: config });
  const jobContainer = (name: string) =>
    (find(m, 'Job', name).spec as { template: { spec: PodSpec } }).template.spec.containers[0] as Container;

  it("kafka-topics creates gpumon's two topics with kafka.partitions, idempotently", () => {
    const dir = mkdtempSync(join(scratch, 'kafka-'));
    const log = join(dir, 'log');
    run('mkdir', ['-p', join(dir, 'bin')]);
    stub(join(dir, 'bin'), 'kafka-topics.sh', log);
    const c = jobContainer('kafka-topics');
    const r = run('sh', ['-ceu', scriptOf(c, config)], {
      env: { PATH: process.env.PATH, KAFKA_HOME: dir, BOOTSTRAP: 'kafka:9092' },
    });
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(log, 'utf8');
    for (const topic of [loaded.kafka.topic, loaded.kafka.dlqTopic]) {
      assert.ok(
        calls.includes(`--create --if-not-exists --topic ${topic} --partitions ${loaded.kafka.partitions}`),
        calls,
      );
    }
  });

  it('hdfs-init creates the archive directories under archive.path, owned by archive.hdfsUser', () => {
    const dir = mkdtempSync(join(scratch, 'hdfs-'));
    const log = join(dir, 'log');
    stub(dir, 'hdfs', log);
    const r = run('bash', ['-ceu', scriptOf(jobContainer('hdfs-init'), config)], {
      env: { PATH: process.env.PATH, HDFS: join(dir, 'hdfs') },
    });
    assert.equal(r.status, 0, r.stderr);
    const root = new URL(loaded.archive.path).pathname.replace(/\/$/, '');
    const calls = readFileSync(log, 'utf8');
    assert.ok(calls.includes(`hdfs dfs -mkdir -p ${root}/gpu-metrics ${root}/gpu-analytics`), calls);
    assert.ok(
      calls.includes(`-chown ${loaded.archive.hdfsUser}:${loaded.archive.hdfsUser} ${root}/gpu-metrics`),
      calls,
    );
    assert.match(calls, /dfsadmin -safemode wait/);
  });

  it('influxdb-init creates the admin, the database influxdb.database, the writer gpumon and the readers grafana and gpumon-serve', () => {
    const dir = mkdtempSync(join(scratch, 'influx-'));
    const log = join(dir, 'log');
    const secrets = join(dir, 'secrets');
    for (const [name, user] of [
      ['influxdb-admin', 'admin'],
      ['gpumon-influxdb', 'gpumon'],
      ['grafana-influxdb', 'grafana'],
      ['gpumon-serve-influxdb', 'gpumon-serve'],
    ]) {
      run('mkdir', ['-p', join(secrets, name as string)]);
      writeFileSync(join(secrets, name as string, 'username'), user as string);
      writeFileSync(join(secrets, name as string, 'password'), `pw-of-${user}`);
    }
    stub(dir, 'influx', log, 'user  admin\n');
    const script = scriptOf(jobContainer('influxdb-init'), config).replaceAll('/etc/secrets/', `${secrets}/`);
    const r = run('bash', ['-ceu', script], {
      env: { PATH: process.env.PATH, INFLUX: join(dir, 'influx'), INFLUXDB_HOST: 'influxdb' },
    });
    assert.equal(r.status, 0, r.stderr);
    const calls = readFileSync(log, 'utf8');
    assert.ok(calls.includes(`CREATE DATABASE "${loaded.influxdb.database}"`), calls);
    assert.ok(calls.includes(`CREATE USER "gpumon" WITH PASSWORD 'pw-of-gpumon'`), calls);
    assert.ok(calls.includes(`GRANT ALL ON "${loaded.influxdb.database}" TO "gpumon"`), calls);
    assert.ok(calls.includes(`GRANT READ ON "${loaded.influxdb.database}" TO "grafana"`), calls);
    assert.ok(calls.includes(`CREATE USER "gpumon-serve" WITH PASSWORD 'pw-of-gpumon-serve'`), calls);
    assert.ok(calls.includes(`GRANT READ ON "${loaded.influxdb.database}" TO "gpumon-serve"`), calls);
    assert.ok(
      !calls.includes('TO "gpumon-serve" WITH ALL') && !/GRANT (ALL|WRITE) .* TO "gpumon-serve"/.test(calls),
      calls,
    );
  });

  for (const [name, nodes] of [
    ['stack', 1],
    ['overlays/kafka-3-brokers', 3],
  ] as const) {
    it(`kafka's init container formats ${nodes === 1 ? 'one node as its own quorum' : 'three voters'} once (${name})`, () => {
      const mm = rendered(name).manifests;
      const sts = find(mm, 'StatefulSet', 'kafka').spec as { replicas: number; template: { spec: PodSpec } };
      assert.equal(sts.replicas, nodes);
      const cm = mm.find((x) => x.kind === 'ConfigMap' && x.metadata.name.startsWith('kafka-config'));
      const dir = mkdtempSync(join(scratch, 'kafka-init-'));
      const base = join(dir, 'base');
      run('mkdir', ['-p', base, join(dir, 'bin'), join(dir, 'config')]);
      for (const [k, v] of Object.entries(cm?.data ?? {})) writeFileSync(join(base, k), v);
      const log = join(dir, 'log');
      stub(join(dir, 'bin'), 'kafka-storage.sh', log);
      const init = sts.template.spec.initContainers?.[0] as Container;
      const script = (init.command?.[2] ?? '')
        .replaceAll('/etc/kafka/base', base)
        .replaceAll('/config/', `${dir}/config/`);
      const r = run('sh', ['-ceu', script], {
        env: { PATH: process.env.PATH, KAFKA_HOME: dir, POD_NAME: `kafka-${nodes - 1}`, POD_NAMESPACE: 'ns' },
      });
      assert.equal(r.status, 0, r.stderr);
      const props = readFileSync(join(dir, 'config', 'server.properties'), 'utf8');
      assert.match(props, new RegExp(`^node\\.id=${nodes - 1}$`, 'm'));
      assert.match(
        props,
        new RegExp(
          `^advertised\\.listeners=PLAINTEXT://kafka-${nodes - 1}\\.kafka-headless\\.ns\\.svc:9092,`,
          'm',
        ),
      );
      assert.match(props, new RegExp(`^default\\.replication\\.factor=${nodes}$`, 'm'));
      assert.match(props, new RegExp(`^min\\.insync\\.replicas=${nodes === 3 ? 2 : 1}$`, 'm'));
      assert.match(props, new RegExp(`^offsets\\.topic\\.replication\\.factor=${nodes}$`, 'm'));
      assert.match(props, new RegExp(`^transaction\\.state\\.log\\.replication\\.factor=${nodes}$`, 'm'));
      const call = readFileSync(log, 'utf8');
      assert.match(call, /format --config .* --cluster-id \S+ --ignore-formatted/);
      if (nodes === 1) assert.match(call, /--standalone/);
      else {
        assert.doesNotMatch(call, /--standalone/);
        const voters = /^controller\.quorum\.voters=(.*)$/m.exec(props)?.[1]?.split(',') ?? [];
        assert.deepEqual(
          voters,
          [0, 1, 2].map((i) => `${i}@kafka-${i}.kafka-headless:9093`),
        );
      }
    });
  }
});

describe("Grafana's provisioning", () => {
  it('comes from deploy/grafana/ only: every file there is in its generator, mounted where Grafana reads it', () => {
    const files = (dir: string): string[] =>
      readdirSync(join(GRAFANA_DIR, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
      );
    const kustomization = readFileSync(join(GRAFANA_DIR, 'kustomization.yaml'), 'utf8');
    for (const f of files('.').filter((f) => f !== 'kustomization.yaml')) {
      assert.ok(kustomization.includes(`=${f}`), `deploy/grafana/${f} is not generated`);
    }
    const m = stack();
    const pod = (find(m, 'Deployment', 'grafana').spec as { template: { spec: PodSpec } }).template.spec;
    const c = pod.containers[0] as Container;
    const mountOf = (cm: string) => {
      const v = pod.volumes?.find((x) => x.configMap?.name.startsWith(`${cm}-`));
      assert.ok(v, `no volume of ${cm}`);
      return c.volumeMounts?.find((x) => x.name === v.name)?.mountPath;
    };
    assert.equal(mountOf('grafana-datasources'), '/etc/grafana/provisioning/datasources');
    assert.equal(mountOf('grafana-dashboard-providers'), '/etc/grafana/provisioning/dashboards');
    const provider = readFileSync(join(GRAFANA_DIR, 'provisioning', 'dashboards', 'gpumon.yaml'), 'utf8');
    assert.ok(provider.includes(`path: ${mountOf('grafana-dashboards')}`));
    // the data source's ${VARIABLES} are set on the container, the password from a Secret
    const datasource = readFileSync(join(GRAFANA_DIR, 'provisioning', 'datasources', 'gpumon.yaml'), 'utf8');
    const vars = [...datasource.matchAll(/^[^#]*\$\{([A-Z_]+)\}/gm)].map((x) => x[1] as string);
    assert.deepEqual(vars.sort(), ['INFLUXDB_PASSWORD', 'INFLUXDB_URL', 'INFLUXDB_USER']);
    const env = new Map((c.env ?? []).map((e: EnvVar) => [e.name, e]));
    for (const v of vars) assert.ok(env.has(v), `${v} is not set on Grafana`);
    assert.equal(env.get('INFLUXDB_PASSWORD')?.valueFrom?.secretKeyRef?.name, 'grafana-influxdb');
    assert.equal(env.get('INFLUXDB_URL')?.value, loadConfig({ file: config() }).influxdb.url);
    // the admin password: a file of the Secret grafana-admin, never admin/admin
    assert.equal(
      env.get('GF_SECURITY_ADMIN_PASSWORD__FILE')?.value,
      '/etc/secrets/grafana-admin/admin-password',
    );
    assert.ok(!JSON.stringify(m).includes('GF_SECURITY_ADMIN_PASSWORD"'));
  });
});

function config(): string {
  return configFile(stack(), 'grafana');
}

describe('the Secrets', () => {
  it('every Secret a pod reads is one deploy.sh generates, with the keys it gives it', () => {
    const deploy = readText('deploy', 'kubernetes', 'deploy.sh');
    const made = new Map(
      [...deploy.matchAll(/^ensure_secret (\S+) (.*)$/gm)].map((x) => [
        x[1] as string,
        [...(x[2] as string).matchAll(/"?([a-z-]+)=/g)].map((k) => k[1] as string),
      ]),
    );
    assert.deepEqual([...made.keys()].sort(), [
      'gpumon-influxdb',
      'gpumon-serve-influxdb',
      'gpumon-serve-token',
      'grafana-admin',
      'grafana-influxdb',
      'influxdb-admin',
    ]);
    for (const w of workloads(stack())) {
      for (const v of w.pod.volumes ?? []) {
        if (v.secret) assert.ok(made.has(v.secret.secretName), `${w.where}: ${v.secret.secretName}`);
      }
      for (const c of allContainers(w.pod)) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) assert.ok(made.get(ref.name)?.includes(ref.key), `${w.where}: ${ref.name}/${ref.key}`);
        }
      }
    }
    assert.ok(
      !/kind: Secret/.test(rendered('stack').text),
      'no Secret in the manifests: deploy.sh makes them',
    );
  });
});
