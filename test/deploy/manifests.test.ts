/**
 * The Kubernetes manifests (deploy/kubernetes/) against the code they deploy: the commands and flags the
 * containers run exist, every setting is a configuration key that gpumon's own loader accepts, the CronJob
 * mirrors the embedded scheduler's defaults, the agent keeps the memory decision of
 * docs/decisions/0001-agent-memory.md, and the probes hit endpoints `gpumon serve` answers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { CONFIG_FIELDS, type ConfigKey, envName } from '../../src/config/schema.ts';
import { startGpumon, waitFor } from '../e2e/helpers.ts';
import {
  BASE_DIR,
  baseManifestFiles,
  baseManifests,
  type Container,
  type CronJobSpec,
  configMapYaml,
  type EnvVar,
  flagsOf,
  gpumonCommands,
  HDFS_SPARK_DIR,
  kustomization,
  manifest,
  memoryBytes,
  type PodSpec,
  podSpecOf,
  ROOT,
  workloadContainers,
} from './support.ts';

const scratch = mkdtempSync(join(tmpdir(), 'gpumon-deploy-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const KEYS = Object.keys(CONFIG_FIELDS) as ConfigKey[];
const ENV_NAMES = new Map(KEYS.map((k) => [envName(k), k]));
/** The one GPUMON_* variable that is not a key: where the YAML file is (src/cli/common.ts). */
const CONFIG_FILE_ENV = 'GPUMON_CONFIG';
const configFile = join(scratch, 'gpumon.yaml');
writeFileSync(configFile, configMapYaml());

/** A container's literal env values; valueFrom entries get a stand-in (a node name, a secret). */
function envOf(container: Container, extra: EnvVar[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of [...(container.env ?? []), ...extra]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) env[e.name] = 'gpu-node-7';
    else if (e.valueFrom?.secretKeyRef) env[e.name] = 'from-a-secret';
  }
  return env;
}

/** The configuration a container runs with: the ConfigMap's file plus its environment. */
function configOf(container: Container, extra: EnvVar[] = []) {
  return loadConfig({ file: configFile, env: envOf(container, extra) });
}

/** The volume mounted at the directory holding `path`, if any. */
function volumeAt(pod: PodSpec, container: Container, path: string) {
  const mount = (container.volumeMounts ?? [])
    .filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  return mount && pod.volumes?.find((v) => v.name === mount.name);
}

function flagsIn(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0] as string);
}

/** The JSON patches of the hdfs-spark variant, by target name. */
function variantPatches(): { target: string; ops: { op: string; path: string; value: unknown }[] }[] {
  return (kustomization(HDFS_SPARK_DIR).patches ?? []).map((p) => ({
    target: `${p.target.kind}/${p.target.name}`,
    ops: parseYaml(p.patch) as { op: string; path: string; value: unknown }[],
  }));
}

describe('the Kubernetes manifests', () => {
  it('parse as YAML, and every object has an apiVersion, a kind and a name', () => {
    const all = baseManifests();
    assert.ok(all.length >= 8, `only ${all.length} objects`);
    for (const { file, manifest: m } of all) {
      assert.match(m.apiVersion ?? '', /^([a-z0-9.]+\/)?v\d+(beta\d+)?$/, `${file}: apiVersion`);
      assert.match(m.kind ?? '', /^[A-Z][A-Za-z]+$/, `${file}: kind`);
      assert.match(m.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${file}: metadata.name`);
    }
  });

  it('deploy the four parts of the fleet and their plumbing', () => {
    const have = baseManifests().map(({ manifest: m }) => `${m.kind}/${m.metadata.name}`);
    for (const want of [
      'Namespace/gpumon',
      'ConfigMap/gpumon-config',
      'PersistentVolumeClaim/gpumon-archive',
      'DaemonSet/gpumon-agent',
      'Deployment/gpumon-consume',
      'CronJob/gpumon-analyze',
      'Deployment/gpumon-serve',
      'Service/gpumon-serve',
    ]) {
      assert.ok(have.includes(want), `${want} missing; have ${have.join(', ')}`);
    }
  });

  it('are listed in the kustomization, every one and only those', () => {
    const k = kustomization(BASE_DIR);
    assert.deepEqual([...(k.resources ?? [])].sort(), baseManifestFiles());
  });

  it('use one image, the one the kustomization sets', () => {
    const names = (kustomization(BASE_DIR).images ?? []).map((i) => i.name);
    const images = baseManifests().flatMap(({ manifest: m }) => {
      const pod = podSpecOf(m);
      return [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])].map((c) => c.image);
    });
    assert.ok(images.length > 0);
    assert.deepEqual([...new Set(images)], names);
  });

  it('run a real gpumon command in every container, through the image entrypoint', () => {
    const commands = gpumonCommands();
    assert.ok(commands.includes('agent') && commands.includes('consume'), `commands: ${commands}`);
    const run = workloadContainers().map(({ where, container }) => {
      assert.equal(container.command, undefined, `${where}: command replaces ENTRYPOINT node bin/gpumon.js`);
      const command = container.args?.[0] ?? '';
      assert.ok(commands.includes(command), `${where}: ${command} is not a gpumon command (${commands})`);
      return command;
    });
    assert.deepEqual([...run].sort(), ['agent', 'analyze', 'consume', 'serve']);
  });

  it('pass only flags that the command accepts, in the base and the hdfs-spark variant', () => {
    const runs: { where: string; args: string[] }[] = workloadContainers().map(({ where, container }) => ({
      where,
      args: container.args ?? [],
    }));
    for (const { target, ops } of variantPatches()) {
      for (const op of ops) {
        if (op.path.endsWith('/args'))
          runs.push({ where: `hdfs-spark ${target}`, args: op.value as string[] });
      }
    }
    assert.ok(
      runs.some((r) => r.args.includes('--spark-remote')),
      'no run of the Spark engine',
    );
    for (const { where, args } of runs) {
      const accepted = flagsOf(args[0] as string);
      for (const flag of flagsIn(args)) {
        assert.ok(
          accepted.has(flag),
          `${where}: ${flag} is not a flag of gpumon ${args[0]} (${[...accepted]})`,
        );
      }
    }
  });

  it('set only GPUMON_* variables that are configuration keys (or GPUMON_CONFIG)', () => {
    const names = workloadContainers().flatMap(({ where, container }) =>
      (container.env ?? []).map((e) => ({ where, name: e.name })),
    );
    for (const { ops, target } of variantPatches()) {
      for (const op of ops) {
        const value = op.value as EnvVar;
        if (op.path.includes('/env/')) names.push({ where: `hdfs-spark ${target}`, name: value.name });
      }
    }
    const gpumonNames = names.filter((n) => n.name.startsWith('GPUMON_'));
    assert.ok(gpumonNames.length > 5);
    for (const { where, name } of gpumonNames) {
      assert.ok(name === CONFIG_FILE_ENV || ENV_NAMES.has(name), `${where}: ${name} is no configuration key`);
    }
  });

  it('point every container at the ConfigMap gpumon.yaml through GPUMON_CONFIG', () => {
    for (const { where, pod, container } of workloadContainers()) {
      const file = container.env?.find((e) => e.name === CONFIG_FILE_ENV)?.value;
      assert.ok(file, `${where}: no ${CONFIG_FILE_ENV}`);
      const volume = volumeAt(pod, container, file);
      assert.equal(volume?.configMap?.name, 'gpumon-config', `${where}: ${file} is not on the ConfigMap`);
      assert.equal(file.split('/').pop(), 'gpumon.yaml');
    }
  });
});

describe('the ConfigMap gpumon.yaml', () => {
  it('holds only configuration keys', () => {
    const keys: string[] = [];
    const walk = (obj: Record<string, unknown>, prefix: string) => {
      for (const [name, value] of Object.entries(obj)) {
        const key = prefix ? `${prefix}.${name}` : name;
        if (key in CONFIG_FIELDS) keys.push(key);
        else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          walk(value as Record<string, unknown>, key);
        } else assert.fail(`${key} is not a configuration key`);
      }
    };
    walk(parseYaml(configMapYaml()) as Record<string, unknown>, '');
    assert.ok(keys.includes('kafka.brokers') && keys.includes('influxdb.url'), keys.join(', '));
  });

  it("loads through gpumon's own configuration loader, alone and with each container's environment", () => {
    const config = loadConfig({ file: configFile });
    assert.equal(config.analytics.engine, 'duckdb');
    assert.equal(config.stream.windowSeconds, 30);
    for (const { where, container } of workloadContainers()) {
      assert.doesNotThrow(() => configOf(container), where);
    }
  });

  it('loads with the hdfs-spark variant: its archive is an HDFS URI', () => {
    for (const { target, ops } of variantPatches()) {
      for (const op of ops.filter((o) => o.path.includes('/env/'))) {
        const env = op.value as EnvVar;
        const config = loadConfig({ file: configFile, env: { [env.name]: env.value ?? '' } });
        if (env.name === envName('archive.path')) {
          assert.match(config.archive.path, /^(webhdfs|hdfs):\/\//, target);
          assert.ok(config.archive.statePath.startsWith('/'), 'the run history stays on the volume');
        }
      }
    }
  });

  it('puts the archive and its run history on the shared volume of consume, analyze and serve', () => {
    for (const { where, pod, container } of workloadContainers()) {
      if (container.args?.[0] === 'agent') continue;
      const config = configOf(container);
      for (const path of [config.archive.path, config.archive.statePath]) {
        const volume = volumeAt(pod, container, path);
        assert.equal(volume?.persistentVolumeClaim?.claimName, 'gpumon-archive', `${where}: ${path}`);
      }
    }
  });
});

describe('the CronJob gpumon-analyze', () => {
  const cron = manifest('CronJob', 'gpumon-analyze').spec as unknown as CronJobSpec;
  const job = cron.jobTemplate.spec;
  const defaults = (key: ConfigKey) => CONFIG_FIELDS[key].default;

  it('runs on the default schedule.cron, in UTC like schedule.timezone', () => {
    assert.equal(cron.schedule, defaults('schedule.cron'));
    assert.equal(cron.timeZone, defaults('schedule.timezone'));
    assert.equal(cron.timeZone, 'UTC');
  });

  it('forbids a run while another is going, as the embedded scheduler does', () => {
    assert.equal(cron.concurrencyPolicy, 'Forbid');
  });

  it('retries schedule.retries times within schedule.deadlineSeconds', () => {
    assert.equal(job.backoffLimit, defaults('schedule.retries'));
    assert.equal(job.activeDeadlineSeconds, defaults('schedule.deadlineSeconds'));
    assert.equal(job.template.spec.restartPolicy, 'Never');
  });

  it('keeps schedule.successfulHistory and schedule.failedHistory finished jobs', () => {
    assert.equal(cron.successfulJobsHistoryLimit, defaults('schedule.successfulHistory'));
    assert.equal(cron.failedJobsHistoryLimit, defaults('schedule.failedHistory'));
  });

  it('gives DuckDB more memory than analytics.memoryLimit', () => {
    const [container] = job.template.spec.containers;
    assert.ok(container);
    const config = configOf(container);
    assert.equal(container.args?.[0], 'analyze');
    assert.equal(config.analytics.engine, 'duckdb');
    const limit = memoryBytes(container.resources?.limits?.memory ?? '0');
    const duckdb = memoryBytes(config.analytics.memoryLimit.replace(/B$/i, ''));
    assert.ok(limit > duckdb, `limit ${limit} <= analytics.memoryLimit ${duckdb}`);
  });
});

describe('the DaemonSet gpumon-agent', () => {
  const ds = manifest('DaemonSet', 'gpumon-agent');
  const pod = podSpecOf(ds) as PodSpec;
  const agent = pod.containers.find((c) => c.args?.[0] === 'agent') as Container;
  const budget = (() => {
    const text = readFileSync(join(ROOT, 'docs', 'decisions', '0001-agent-memory.md'), 'utf8');
    const m = /budget of \*\*(\d+) MiB\*\*/.exec(text);
    assert.ok(m?.[1], 'the decision record names no budget');
    return Number(m[1]) * 1024 ** 2;
  })();

  it('sets NODE_OPTIONS=--max-semi-space-size=1, as the memory decision requires', () => {
    const options = agent.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    assert.ok(options.split(/\s+/).includes('--max-semi-space-size=1'), options);
  });

  it('sets MALLOC_ARENA_MAX=2, the glibc arenas the memory decision measured', () => {
    assert.equal(agent.env?.find((e) => e.name === 'MALLOC_ARENA_MAX')?.value, '2');
  });

  it("requests the decision's 100 MiB budget and limits memory at or above it", () => {
    assert.equal(budget, 100 * 1024 ** 2);
    const request = memoryBytes(agent.resources?.requests?.memory ?? '0');
    const limit = memoryBytes(agent.resources?.limits?.memory ?? '0');
    assert.ok(request >= budget, `request ${request} < budget ${budget}`);
    assert.ok(limit >= budget && limit >= request, `limit ${limit}`);
  });

  it("keeps the spool on the node's disk, so it survives pod restarts", () => {
    const config = configOf(agent);
    const volume = volumeAt(pod, agent, config.agent.spoolPath);
    assert.ok(volume?.hostPath, `agent.spoolPath ${config.agent.spoolPath} is not on a hostPath`);
  });

  it("names samples after the node, and reaches the host's NVML without claiming a GPU", () => {
    const host = agent.env?.find((e) => e.name === envName('source.host'));
    assert.equal(host?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    const env = envOf(agent);
    assert.equal(env.NVIDIA_VISIBLE_DEVICES, 'all');
    assert.match(env.NVIDIA_DRIVER_CAPABILITIES ?? '', /utility/);
    assert.equal(pod.runtimeClassName, 'nvidia');
    assert.ok(!JSON.stringify(agent.resources).includes('nvidia.com/gpu'));
    assert.ok(pod.tolerations?.some((t) => t.key === 'nvidia.com/gpu'));
  });

  it("reads the host metrics from the node's /proc and /sys, mounted read-only at source.hostRoot, not the container's", () => {
    const config = configOf(agent);
    assert.equal(config.source.hostRoot, '/host');
    for (const dir of ['proc', 'sys']) {
      const mount = agent.volumeMounts?.find((m) => m.mountPath === `${config.source.hostRoot}/${dir}`);
      assert.equal(mount?.readOnly, true, `the node's /${dir} is mounted read-only`);
      const volume = volumeAt(pod, agent, `${config.source.hostRoot}/${dir}/stat`);
      assert.equal(volume?.name, mount?.name);
      assert.equal(volume?.hostPath?.path, `/${dir}`);
      assert.ok(
        !pod.initContainers?.some((c) => c.volumeMounts?.some((m) => m.name === mount?.name)),
        `no init container sees the node's /${dir}`,
      );
    }
  });

  it("mounts the kubelet's pod-resources directory read-only, where the configured socket is", () => {
    const config = configOf(agent);
    assert.equal(config.kubernetes.podResourcesSocket, '/var/lib/kubelet/pod-resources/kubelet.sock');
    const mount = agent.volumeMounts?.find((m) => m.mountPath === '/var/lib/kubelet/pod-resources');
    assert.equal(mount?.readOnly, true, 'the pod-resources mount is read-only');
    const volume = volumeAt(pod, agent, config.kubernetes.podResourcesSocket);
    assert.equal(volume?.name, mount?.name);
    assert.equal(volume?.hostPath?.path, '/var/lib/kubelet/pod-resources');
    assert.ok(
      !pod.initContainers?.some((c) => c.volumeMounts?.some((m) => m.name === mount?.name)),
      'no init container touches the kubelet directory',
    );
  });
});

describe('the Deployment gpumon-serve', () => {
  const pod = podSpecOf(manifest('Deployment', 'gpumon-serve')) as PodSpec;
  const serve = pod.containers[0] as Container;
  const service = manifest('Service', 'gpumon-serve').spec as {
    selector: Record<string, string>;
    ports: { targetPort: string | number }[];
  };

  it('listens on the port its probes and its Service use', () => {
    const args = serve.args ?? [];
    const port = Number(args[args.indexOf('--port') + 1]);
    const named = serve.ports?.find((p) => p.name === 'http');
    assert.equal(named?.containerPort, port);
    assert.equal(args[args.indexOf('--host') + 1], '0.0.0.0');
    for (const probe of [serve.readinessProbe, serve.livenessProbe])
      assert.equal(probe?.httpGet?.port, 'http');
    assert.equal(service.ports[0]?.targetPort, 'http');
    const labels = (
      manifest('Deployment', 'gpumon-serve').spec as { template: { metadata: { labels: object } } }
    ).template.metadata.labels;
    assert.deepEqual({ ...labels, ...service.selector }, labels);
  });

  it('reads its token from the Secret gpumon-serve-token, mounted as a file', () => {
    const config = configOf(serve);
    assert.equal(config.server.auth, 'token');
    const volume = volumeAt(pod, serve, config.server.tokenFile);
    assert.equal(volume?.secret?.secretName, 'gpumon-serve-token', config.server.tokenFile);
    assert.ok(config.server.tokenFile.endsWith('/token'), 'the key deploy.sh gives the Secret');
  });

  it('reads the live fleet from InfluxDB, with the credentials of the optional Secret gpumon-influxdb', () => {
    const config = configOf(serve);
    assert.equal(config.serve.live, 'influxdb');
    for (const key of ['influxdb.username', 'influxdb.password', 'influxdb.token'] as const) {
      const ref = serve.env?.find((e) => e.name === envName(key))?.valueFrom?.secretKeyRef;
      assert.equal(ref?.name, 'gpumon-influxdb', key);
      assert.equal(ref?.optional, true, key);
    }
  });

  it('answers its probes with 200 without the token, and the API only with it, when run as the manifest runs it', async () => {
    const port = await freePort();
    const args = (serve.args ?? []).map((a, i, all) => (all[i - 1] === '--port' ? String(port) : a));
    const token = 'f00dfeed'.repeat(8);
    writeFileSync(join(scratch, 'serve-token'), `${token}\n`);
    mkdirSync(join(scratch, 'archive'), { recursive: true });
    const served = startGpumon(args, {
      ...envOf(serve),
      [CONFIG_FILE_ENV]: configFile,
      [envName('archive.path')]: join(scratch, 'archive'),
      [envName('archive.statePath')]: join(scratch, 'state'),
      [envName('server.tokenFile')]: join(scratch, 'serve-token'),
    });
    try {
      await waitFor(
        'serve to print its address',
        () => served.stdout().includes('dashboard at') || null,
        60_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; output so far: ${served.stdout()}${served.stderr()}`);
      });
      for (const path of new Set([serve.readinessProbe?.httpGet?.path, serve.livenessProbe?.httpGet?.path])) {
        assert.ok(path);
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        assert.equal(res.status, 200, `${path}: ${await res.text()}`);
      }
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/health`)).status, 401);
      const health = await fetch(`http://127.0.0.1:${port}/api/health`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(health.status, 200);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  });
});

describe('Prometheus scraping the bring-your-own layout', () => {
  /** Each workload of the base with its pod template's labels and annotations. */
  const templates = baseManifests()
    .map(({ manifest: m }) => m)
    .filter((m) => podSpecOf(m) !== undefined && m.kind !== 'CronJob')
    .map((m) => {
      const meta = (
        m.spec as {
          template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } };
        }
      ).template.metadata;
      return {
        where: `${m.kind}/${m.metadata.name}`,
        pod: podSpecOf(m) as PodSpec,
        labels: meta?.labels ?? {},
        annotations: meta?.annotations ?? {},
      };
    });
  type Selector = {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const selects = (selector: Selector, labels: Record<string, string>) =>
    Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
    (selector.matchExpressions ?? []).every((e) => {
      assert.equal(e.operator, 'In', 'the test reads only In expressions');
      return (e.values ?? []).includes(labels[e.key] ?? '');
    });

  it("annotates the agent and consume pods with /metrics on the port they declare and gpumon's health server listens on", () => {
    const annotated = templates.filter((t) => t.annotations['prometheus.io/scrape'] === 'true');
    assert.deepEqual(annotated.map((t) => t.where).sort(), [
      'DaemonSet/gpumon-agent',
      'Deployment/gpumon-consume',
    ]);
    for (const t of annotated) {
      assert.equal(t.annotations['prometheus.io/path'], '/metrics', t.where);
      const port = Number(t.annotations['prometheus.io/port']);
      const container = t.pod.containers.find((c) => c.ports?.some((p) => p.containerPort === port));
      assert.ok(container, `${t.where}: prometheus.io/port ${port} is no port of a container`);
      assert.equal(configOf(container).health.port, port, `${t.where}: health.port`);
    }
  });

  it('admits namespaces labelled gpumon.io/metrics-scraper=true to exactly those ports of exactly those pods', () => {
    const policy = manifest('NetworkPolicy', 'gpumon-metrics').spec as {
      podSelector: Selector;
      policyTypes: string[];
      ingress: {
        from: { namespaceSelector?: Selector; podSelector?: Selector }[];
        ports: { port: number }[];
      }[];
    };
    assert.deepEqual(policy.policyTypes, ['Ingress']);
    const scraped = templates.filter((t) => t.annotations['prometheus.io/scrape'] === 'true');
    assert.deepEqual(
      templates.filter((t) => selects(policy.podSelector, t.labels)).map((t) => t.where),
      scraped.map((t) => t.where),
    );
    assert.equal(policy.ingress.length, 1);
    const [rule] = policy.ingress;
    assert.deepEqual(rule?.from, [
      { namespaceSelector: { matchLabels: { 'gpumon.io/metrics-scraper': 'true' } } },
    ]);
    assert.deepEqual(
      rule?.ports.map((p) => p.port),
      [...new Set(scraped.map((t) => Number(t.annotations['prometheus.io/port'])))],
    );
    // and every other pod of gpumon takes only serve's traffic: the deny-all policy stays
    const deny = manifest('NetworkPolicy', 'gpumon').spec as { policyTypes: string[]; ingress?: unknown[] };
    assert.ok(deny.policyTypes.includes('Ingress'));
    assert.equal(deny.ingress, undefined);
  });
});

describe('the hdfs-spark variant', () => {
  it('builds on the base', () => {
    const resources = kustomization(HDFS_SPARK_DIR).resources ?? [];
    assert.deepEqual(
      resources.map((r) => relative(ROOT, join(HDFS_SPARK_DIR, r))),
      [relative(ROOT, BASE_DIR)],
    );
    assert.ok(existsSync(join(BASE_DIR, 'kustomization.yaml')));
  });

  it('patches only objects of the base', () => {
    const objects = baseManifests().map(({ manifest: m }) => `${m.kind}/${m.metadata.name}`);
    for (const { target } of variantPatches()) assert.ok(objects.includes(target), target);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
