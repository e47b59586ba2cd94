/**
 * Helpers of the deployment tests: the Kubernetes manifests under deploy/kubernetes/, read with the `yaml`
 * package, and gpumon's own command line (bin/gpumon.js), run to learn its commands and flags.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PROJECT_ROOT } from '../../src/paths.ts';

export const ROOT = PROJECT_ROOT;
export const KUBERNETES_DIR = join(ROOT, 'deploy', 'kubernetes');
export const BASE_DIR = join(KUBERNETES_DIR, 'byo', 'base');
export const HDFS_SPARK_DIR = join(KUBERNETES_DIR, 'byo', 'hdfs-spark');
export const GRAFANA_DIR = join(ROOT, 'deploy', 'grafana');

/** The parts of the Kubernetes API the tests look at. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
export interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: { command: string[] };
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  imagePullPolicy?: string;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface Volume {
  name: string;
  configMap?: { name: string };
  hostPath?: { path: string; type?: string };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: Record<string, unknown>;
  secret?: { secretName: string };
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  restartPolicy?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, string>[];
  runtimeClassName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: SecurityContext;
  affinity?: Record<string, unknown>;
}
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}
export interface CronJobSpec {
  schedule: string;
  timeZone?: string;
  concurrencyPolicy?: string;
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  jobTemplate: {
    spec: { backoffLimit?: number; activeDeadlineSeconds?: number; template: { spec: PodSpec } };
  };
}

/** Every YAML document of a file, parsed; a syntax error throws, naming the file. */
export function parseYamlFile(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${path}: no YAML documents`);
  return docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

/** The manifest files of the base (every .yaml but kustomization.yaml), sorted. */
export function baseManifestFiles(): string[] {
  return readdirSync(BASE_DIR)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();
}

/** Every object of the base's manifests, with the file it is in. */
export function baseManifests(): { file: string; manifest: Manifest }[] {
  return baseManifestFiles().flatMap((file) =>
    parseYamlFile(join(BASE_DIR, file)).map((doc) => ({ file, manifest: doc as Manifest })),
  );
}

export function kustomization(dir: string): {
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
} {
  return parseYamlFile(join(dir, 'kustomization.yaml'))[0] as ReturnType<typeof kustomization>;
}

export function manifest(kind: string, name: string): Manifest {
  const found = baseManifests().find((m) => m.manifest.kind === kind && m.manifest.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/kubernetes/byo/base`);
  return found.manifest;
}

/** The pod spec of a workload (Deployment, DaemonSet, CronJob). */
export function podSpecOf(m: Manifest): PodSpec | undefined {
  if (m.kind === 'CronJob') return (m.spec as unknown as CronJobSpec).jobTemplate.spec.template.spec;
  if (m.kind === 'Deployment' || m.kind === 'DaemonSet' || m.kind === 'Job' || m.kind === 'StatefulSet') {
    return (m.spec as { template: { spec: PodSpec } }).template.spec;
  }
  return undefined;
}

/** Every workload's containers (not init containers), named `Kind/name/container`. */
export function workloadContainers(): {
  where: string;
  manifest: Manifest;
  pod: PodSpec;
  container: Container;
}[] {
  return baseManifests().flatMap(({ manifest: m }) => {
    const pod = podSpecOf(m);
    return (pod?.containers ?? []).map((container) => ({
      where: `${m.kind}/${m.metadata.name}/${container.name}`,
      manifest: m,
      pod,
      container,
    }));
  }) as { where: string; manifest: Manifest; pod: PodSpec; container: Container }[];
}

/** The ConfigMap's gpumon.yaml, as text. */
export function configMapYaml(): string {
  const text = manifest('ConfigMap', 'gpumon-config').data?.['gpumon.yaml'];
  if (!text) throw new Error('ConfigMap gpumon-config has no gpumon.yaml');
  return text;
}

/** A Kubernetes quantity of memory in bytes (`100Mi`, `4Gi`, `512M`, plain bytes). */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m?.[1]) throw new Error(`not a memory quantity: ${quantity}`);
  const unit: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] ? (unit[m[2]] ?? Number.NaN) : 1);
}

/** Runs bin/gpumon.js with `args` in `cwd` (default: the checkout); throws unless it exits 0. */
export function gpumon(args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = process.env): string {
  const run = spawnSync(process.execPath, ['bin/gpumon.js', ...args], { cwd, env, encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`gpumon ${args.join(' ')} exited ${run.status}: ${run.stderr}${run.stdout}`);
  }
  return run.stdout;
}

/** The commands `gpumon --help` lists (its "Commands:" section), `help` left out. */
export function gpumonCommands(): string[] {
  const help = gpumon(['--help']);
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)]
    .map((m) => m[1] as string)
    .filter((c) => c !== 'help');
}

/** The long flags `gpumon <command> --help` lists, e.g. `--engine`. */
export function flagsOf(command: string): Set<string> {
  const help = gpumon([command, '--help']);
  return new Set([...help.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1] as string));
}
