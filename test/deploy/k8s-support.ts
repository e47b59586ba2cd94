/**
 * Helpers of the stack's offline tests: kubectl (the one scripts/k8s/build.sh builds; never another),
 * the linters of scripts/setup/deploy-lint.sh, and every kustomization of deploy/kubernetes/ rendered the way
 * `kubectl apply -k` renders it. A missing tool throws: these tests fail without it, they never skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Container, Manifest, PodSpec } from './support.ts';
import { KUBERNETES_DIR, podSpecOf, ROOT } from './support.ts';

export const STACK_DIR = join(KUBERNETES_DIR, 'stack');
export const OVERLAYS_DIR = join(KUBERNETES_DIR, 'overlays');
export const NAMESPACE = 'gpu-monitoring';
export const AGENT_NAMESPACE = 'gpu-monitoring-agent';

/** Runs a command; returns its status and output (never throws on a non-zero exit). */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeout ?? 600_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mustRun(command: string, args: string[], what: string): string {
  const r = run(command, args);
  if (r.status !== 0)
    throw new Error(`${what}: ${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

let kubectlPath: string | undefined;
/** The project's kubectl: scripts/k8s/build.sh prints its bin directory (seconds once built and cached). */
export function kubectl(): string {
  if (!kubectlPath) {
    const bin = mustRun('bash', [join(ROOT, 'scripts', 'k8s', 'build.sh')], 'building kubectl').trim();
    kubectlPath = join(bin.split('\n').pop() ?? '', 'kubectl');
  }
  return kubectlPath;
}

let lintTools: Record<string, string> | undefined;
/**
 * The path of a linter (kubernetes-validate, checkov, hadolint, shellcheck): GPUMON_<NAME> when the test
 * runner exported scripts/setup/deploy-lint.sh's lines, else what that script prints (it installs them).
 */
export function lintTool(name: 'KUBERNETES_VALIDATE' | 'CHECKOV' | 'HADOLINT' | 'SHELLCHECK'): string {
  const fromEnv = process.env[`GPUMON_${name}`];
  if (fromEnv) return fromEnv;
  if (!lintTools) {
    const out = mustRun('bash', [join(ROOT, 'scripts', 'setup', 'deploy-lint.sh')], 'installing the linters');
    lintTools = Object.fromEntries(
      out
        .split('\n')
        .map((l) => /^(GPUMON_[A-Z_]+)=(.+)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1] as string, m[2] as string]),
    );
  }
  const path = lintTools[`GPUMON_${name}`];
  if (!path) throw new Error(`scripts/setup/deploy-lint.sh printed no GPUMON_${name}`);
  return path;
}

/** Every object of a kustomize output, parsed. */
export function parseManifests(text: string, where: string): Manifest[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Manifest | null;
    return value ? [value] : [];
  });
}

/** `kubectl kustomize DIR`: the text and its objects. */
export function render(dir: string): { text: string; manifests: Manifest[] } {
  const text = mustRun(kubectl(), ['kustomize', dir], `rendering ${relative(ROOT, dir)}`);
  return { text, manifests: parseManifests(text, relative(ROOT, dir)) };
}

/** The kustomizations a user applies: the stack, each overlay, the bring-your-own layout. */
export function kustomizations(): { name: string; dir: string }[] {
  const overlays = readdirSync(OVERLAYS_DIR)
    .sort()
    .map((name) => ({ name: `overlays/${name}`, dir: join(OVERLAYS_DIR, name) }));
  return [
    { name: 'stack', dir: STACK_DIR },
    ...overlays,
    { name: 'byo/base', dir: join(KUBERNETES_DIR, 'byo', 'base') },
    { name: 'byo/hdfs-spark', dir: join(KUBERNETES_DIR, 'byo', 'hdfs-spark') },
  ];
}

const renders = new Map<string, { text: string; manifests: Manifest[] }>();
/** The rendering of one of kustomizations(), cached for the run. */
export function rendered(name: string): { text: string; manifests: Manifest[] } {
  let r = renders.get(name);
  if (!r) {
    const k = kustomizations().find((x) => x.name === name);
    if (!k) throw new Error(`no kustomization ${name}`);
    r = render(k.dir);
    renders.set(name, r);
  }
  return r;
}

/** The stack's renderings: the stack itself and its overlays (not the bring-your-own layout). */
export function stackRenderings(): string[] {
  return kustomizations()
    .map((k) => k.name)
    .filter((n) => n === 'stack' || n.startsWith('overlays/'));
}

/** Writes each rendering into a fresh directory as <name>.yaml (for the linters); returns the paths. */
export function writeRenderings(names: string[], transform: (text: string) => string = (t) => t): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'gpumon-rendered-'));
  return names.map((name) => {
    const path = join(dir, `${name.replaceAll('/', '_')}.yaml`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, transform(rendered(name).text));
    return path;
  });
}

export function find(manifests: Manifest[], kind: string, name: string, namespace?: string): Manifest {
  const m = manifests.find(
    (x) => x.kind === kind && x.metadata.name === name && (!namespace || x.metadata.namespace === namespace),
  );
  if (!m) throw new Error(`no ${kind} ${name}${namespace ? ` in ${namespace}` : ''}`);
  return m;
}

export interface Workload {
  where: string;
  manifest: Manifest;
  pod: PodSpec;
  labels: Record<string, string>;
}
/** Every object with a pod template: Deployment, StatefulSet, DaemonSet, Job, CronJob. */
export function workloads(manifests: Manifest[]): Workload[] {
  return manifests.flatMap((m) => {
    const pod = podSpecOf(m);
    if (!pod) return [];
    const spec = m.spec as {
      template?: { metadata?: { labels?: Record<string, string> } };
      jobTemplate?: { spec: { template: { metadata?: { labels?: Record<string, string> } } } };
    };
    const labels = (spec.template ?? spec.jobTemplate?.spec.template)?.metadata?.labels ?? {};
    return [{ where: `${m.kind}/${m.metadata.name}`, manifest: m, pod, labels }];
  });
}

/** Whether a workload runs until stopped (probes needed), rather than to completion. */
export function longRunning(w: Workload): boolean {
  return ['Deployment', 'StatefulSet', 'DaemonSet'].includes(w.manifest.kind);
}

export function allContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

/** Whether the labels satisfy a matchLabels selector. */
export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** The ports of a container by name and number. */
export function containerPorts(pod: PodSpec): { name?: string; containerPort: number }[] {
  return pod.containers.flatMap((c) => c.ports ?? []);
}

/** A quantity of CPU in cores (`250m`, `2`). */
export function cpuCores(q: string | number | undefined): number {
  if (q === undefined) return 0;
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

export function readText(...path: string[]): string {
  return readFileSync(join(ROOT, ...path), 'utf8');
}
