/**
 * The scripts of deploy/kubernetes/ without a cluster: deploy.sh and undeploy.sh against a stand-in kubectl
 * that answers like a cluster would (and renders with the project's real kubectl), build-images.sh and
 * push-images.sh against a stand-in docker. Each prerequisite's message, the Secrets made once and kept, the
 * component that is not ready named with its reason, the data kept by undeploy.sh; the .bat scripts run the
 * same steps and subcommands as the .sh ones; the quick reference gives the users' guide commands verbatim.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { kubectl, parseManifests, readText, run } from './k8s-support.ts';
import { KUBERNETES_DIR, ROOT } from './support.ts';

const scratch = mkdtempSync(join(tmpdir(), 'gpumon-scripts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const script = (name: string) => join(KUBERNETES_DIR, name);
const version = JSON.parse(readText('package.json')).version as string;

/** A stand-in kubectl: logs each call, answers as a cluster with one GPU node would; FAKE_* vary it. */
function fakeKubectl(dir: string): string {
  const path = join(dir, 'kubectl');
  writeFileSync(
    path,
    `#!/usr/bin/env bash
echo "$*" >>"$FAKE_LOG"
case "$*" in
  "get --raw=/readyz"*) if [ -n "\${FAKE_UNREACHABLE:-}" ]; then echo "dial tcp 10.0.0.1:6443: connect: connection refused" >&2; exit 1; fi; echo ok ;;
  "config current-context") echo test-context ;;
  "get storageclass"*) if [ -z "\${FAKE_NO_SC:-}" ]; then printf '\\ntrue\\n'; fi ;;
  "get nodes"*) if [ -z "\${FAKE_NO_GPU:-}" ]; then echo node/gpu-1; fi ;;
  kustomize*) exec "$REAL_KUBECTL" "$@" ;;
  "apply -k "*" -l "*) "$REAL_KUBECTL" kustomize "$3" >/dev/null || exit 1; echo "applied $3 ($5)" ;;
  "apply -k "*) "$REAL_KUBECTL" kustomize "$3" >"$FAKE_STATE/applied.yaml" || exit 1; echo "applied $3" ;;
  "get secret -n "*" -o jsonpath="*) echo YWRtaW4= ;;
  "get secret -n "*) [ -f "$FAKE_STATE/secret-$5" ] ;;
  "create secret generic "*) touch "$FAKE_STATE/secret-$4" ;;
  "delete "*) echo deleted ;;
  "get statefulset,deployment,daemonset -n gpu-monitoring-agent "*) echo daemonset.apps/gpumon-agent ;;
  "get statefulset,deployment,daemonset -n "*) printf 'statefulset.apps/kafka\\ndeployment.apps/grafana\\n' ;;
  "get job -n gpu-monitoring-agent "*) ;;
  "get job -n "*) echo job.batch/kafka-topics ;;
  "get job.batch/"*) echo Complete ;;
  "get deployment gpumon-consume -n "*) [ -f "$FAKE_STATE/applied.yaml" ] ;;
  "rollout status deployment/gpumon-consume "*) if [ -n "\${FAKE_CONSUME_STUCK:-}" ]; then echo "timed out" >&2; exit 1; fi ;;
  "rollout status statefulset.apps/kafka "*) if [ -n "\${FAKE_KAFKA_STUCK:-}" ]; then echo "timed out" >&2; exit 1; fi ;;
  "rollout status "*) ;;
  "get statefulset.apps/kafka -n gpu-monitoring -o go-template="*) printf 'app.kubernetes.io/name=kafka,' ;;
  "get pods -n gpu-monitoring -l app.kubernetes.io/name=kafka -o name") echo pod/kafka-0 ;;
  "get pods "*) echo "kafka-0   0/1   Init:CrashLoopBackOff   5   4m" ;;
  "get events "*) echo "    BackOff: Back-off restarting failed container configure in pod kafka-0" ;;
  "logs "*) echo "Exception in thread main: format failed" ;;
  "get pvc "*) echo "data-kafka-0   Bound" ;;
  *) echo "fake kubectl: unexpected: $*" >&2; exit 3 ;;
esac
`,
  );
  chmodSync(path, 0o755);
  return path;
}

interface Run {
  status: number | null;
  out: string;
  calls: string[];
  state: string;
}
/** Runs a script of deploy/kubernetes/ with the stand-in kubectl (and docker); `env` varies them. */
function runScript(name: string, args: string[], env: Record<string, string> = {}, stateDir?: string): Run {
  const dir = mkdtempSync(join(scratch, 'run-'));
  const state = stateDir ?? join(dir, 'state');
  mkdirSync(state, { recursive: true });
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  fakeKubectl(bin);
  writeFileSync(join(bin, 'docker'), '#!/bin/sh\necho "docker $*" >>"$FAKE_LOG"\n', { mode: 0o755 });
  const log = join(dir, 'log');
  writeFileSync(log, '');
  const r = run('bash', [script(name), ...args], {
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: dir,
      KUBECTL: join(bin, 'kubectl'),
      REAL_KUBECTL: kubectl(),
      FAKE_LOG: log,
      FAKE_STATE: state,
      GPUMON_DEPLOY_STATE: join(state, 'deploy'),
      ...env,
    },
  });
  return {
    status: r.status,
    out: r.stdout + r.stderr,
    calls: readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
    state,
  };
}

/** The step names a .sh (`step "..."`) or a .bat (`call :step "..."`) runs, variables left out. */
function steps(text: string, bat: boolean): string[] {
  const re = bat ? /^call :step "([^"]*)"/gm : /^\s*step "([^"]*)"/gm;
  return [...text.matchAll(re)].map((m) =>
    (m[1] as string)
      .replace(/%[A-Z_]+%|\$\{?[a-z_]+\}?/g, '')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}
/** The subcommands a script gives `tool` (`kc get`, `"$KUBECTL" get`, `"%KUBECTL%" get`, `"$builder" build`). */
function subcommands(text: string, tool: 'kubectl' | 'builder'): string[] {
  const names = tool === 'kubectl' ? ['kc', '"\\$KUBECTL"', '"%KUBECTL%"'] : ['"\\$builder"', '"%BUILDER%"'];
  const re = new RegExp(`(?:^|[\\s('])(?:${names.join('|')})\\s+([a-z]+)(?:\\s+([a-z]+))?`, 'gm');
  const verbs = new Set([
    'get',
    'create',
    'delete',
    'apply',
    'rollout',
    'wait',
    'kustomize',
    'logs',
    'build',
    'tag',
    'push',
    'pull',
  ]);
  return [
    ...new Set(
      [...text.matchAll(re)]
        .filter((m) => verbs.has(m[1] as string))
        .map((m) => (['rollout', 'create'].includes(m[1] as string) ? `${m[1]} ${m[2]}` : (m[1] as string))),
    ),
  ].sort();
}

describe('deploy.sh', () => {
  it('checks each prerequisite, makes the Secrets, applies, waits and prints the access commands', () => {
    const r = runScript('deploy.sh', []);
    assert.equal(r.status, 0, r.out);
    const printed = [...r.out.matchAll(/^deploy\.sh: \[\d+\] (.*)$/gm)].map((m) => m[1] as string);
    const declared = steps(readText('deploy', 'kubernetes', 'deploy.sh'), false);
    assert.equal(printed.length, declared.length, printed.join('\n'));
    for (const [i, p] of printed.entries()) {
      assert.ok(p.startsWith((declared[i] ?? '').split(' ')[0] ?? ''), `${p} / ${declared[i]}`);
    }
    assert.deepEqual(declared, [
      'check kubectl',
      'check the cluster',
      'check the default StorageClass',
      'check GPU nodes',
      'render',
      'namespaces and',
      'secrets',
      'apply',
      'wait for every component (at most s)',
      'access',
    ]);
    const creates = r.calls.filter((c) => c.startsWith('create secret generic'));
    assert.deepEqual(
      creates.map((c) => c.split(' ')[3]),
      [
        'grafana-admin',
        'influxdb-admin',
        'gpumon-influxdb',
        'grafana-influxdb',
        'gpumon-serve-influxdb',
        'gpumon-serve-token',
      ],
    );
    for (const c of creates.slice(0, 5)) {
      assert.match(c, /--from-literal=(admin-)?password=[0-9a-f]{32}\b/, c);
      assert.doesNotMatch(c, /password=admin\b/);
    }
    assert.match(creates[5] ?? '', /--from-literal=token=[0-9a-f]{64}$/);
    assert.ok(r.calls.includes('delete job -n gpu-monitoring -l gpumon.io/init-job=true --ignore-not-found'));
    assert.ok(
      r.calls.some((c) => /^apply -k \S+ -l gpumon\.io\/role$/.test(c)),
      'namespaces first',
    );
    assert.ok(
      r.calls.some((c) => c.startsWith('rollout status statefulset.apps/kafka -n gpu-monitoring --timeout=')),
    );
    assert.ok(
      r.calls.some((c) => c.startsWith('rollout status daemonset.apps/gpumon-agent -n gpu-monitoring-agent')),
    );
    for (const line of [
      'kubectl port-forward -n gpu-monitoring svc/grafana 3000:3000',
      'kubectl port-forward -n gpu-monitoring svc/spark-master 8080:8080',
      'kubectl port-forward -n gpu-monitoring svc/namenode 9870:9870',
      'kubectl port-forward -n gpu-monitoring svc/gpumon-serve',
      "kubectl get secret -n gpu-monitoring grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d",
      "kubectl get secret -n gpu-monitoring gpumon-serve-token -o jsonpath='{.data.token}' | base64 -d",
      'Grafana: user admin, password admin',
    ]) {
      assert.ok(r.out.includes(line), `missing: ${line}\n${r.out}`);
    }
    // what it applied is the stack
    const applied = parseManifests(readFileSync(join(r.state, 'applied.yaml'), 'utf8'), 'applied');
    assert.ok(applied.some((m) => m.kind === 'CronJob' && m.metadata.name === 'gpu-batch-analytics'));
  });

  it('keeps the Secrets on a redeploy', () => {
    const state = mkdtempSync(join(scratch, 'state-'));
    assert.equal(runScript('deploy.sh', [], {}, state).status, 0);
    const again = runScript('deploy.sh', [], {}, state);
    assert.equal(again.status, 0, again.out);
    assert.deepEqual(
      again.calls.filter((c) => c.startsWith('create secret')),
      [],
    );
    assert.equal((again.out.match(/Secret [a-z-]+: kept/g) ?? []).length, 6);
  });

  it('upgrades the consumers before the agents: everything but the agents, gpumon-consume rolled out, then all', () => {
    const state = mkdtempSync(join(scratch, 'state-'));
    const first = runScript('deploy.sh', [], {}, state);
    assert.equal(first.status, 0, first.out);
    const applies = (r: Run) =>
      r.calls.filter((c) => /^(apply -k|rollout status deployment\/gpumon-consume)/.test(c));
    // A first install has no consumer running: one apply of everything.
    assert.equal(applies(first).filter((c) => !c.includes('-l gpumon.io/role')).length, 1);

    const upgrade = runScript('deploy.sh', [], {}, state);
    assert.equal(upgrade.status, 0, upgrade.out);
    const order = applies(upgrade).filter((c) => !c.includes('-l gpumon.io/role'));
    assert.equal(order.length, 3, order.join('\n'));
    assert.match(order[0] as string, /^apply -k \S+ -l app\.kubernetes\.io\/name!=gpumon-agent$/);
    assert.match(order[1] as string, /^rollout status deployment\/gpumon-consume -n gpu-monitoring /);
    assert.match(order[2] as string, /^apply -k \S+$/);

    // A consumer that does not come up leaves the agents as they were, and says why.
    const stuck = runScript('deploy.sh', ['--timeout', '5'], { FAKE_CONSUME_STUCK: '1' }, state);
    assert.equal(stuck.status, 1, stuck.out);
    assert.match(stuck.out, /gpumon-consume is not ready after 5s: the agents were left as they were/);
    assert.deepEqual(
      stuck.calls.filter((c) => /^apply -k \S+$/.test(c)),
      [],
      'the agents were not applied',
    );
  });

  it('names what is missing: kubectl, the cluster, the default StorageClass; warns without GPU nodes', () => {
    const noKubectl = runScript('deploy.sh', [], { KUBECTL: join(scratch, 'no-such-kubectl') });
    assert.equal(noKubectl.status, 1);
    assert.match(noKubectl.out, /kubectl not found .*install it .*or set KUBECTL=/);
    const down = runScript('deploy.sh', [], { FAKE_UNREACHABLE: '1' });
    assert.equal(down.status, 1);
    assert.match(
      down.out,
      /cannot reach the cluster of kubectl's context 'test-context': .*connection refused/,
    );
    const noSc = runScript('deploy.sh', [], { FAKE_NO_SC: '1' });
    assert.equal(noSc.status, 1);
    assert.match(noSc.out, /no default StorageClass: .*Pending[\s\S]*is-default-class/);
    const noGpu = runScript('deploy.sh', [], { FAKE_NO_GPU: '1' });
    assert.equal(noGpu.status, 0, noGpu.out);
    assert.match(noGpu.out, /warning: no node has the label nvidia\.com\/gpu\.present=true/);
  });

  it('names the component that is not ready, and why (its pods, their last event, their last logs)', () => {
    const r = runScript('deploy.sh', ['--timeout', '5'], { FAKE_KAFKA_STUCK: '1' });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /statefulset\.apps\/kafka \(namespace gpu-monitoring\) is not ready/);
    assert.match(r.out, /Init:CrashLoopBackOff/);
    assert.match(r.out, /BackOff: Back-off restarting failed container configure/);
    assert.match(r.out, /format failed/);
    assert.match(r.out, /statefulset\.apps\/kafka is not ready after 5s/);
  });

  it('renders another namespace (NS and NS-agent) and the registry push-images.sh recorded', () => {
    const state = mkdtempSync(join(scratch, 'state-'));
    const push = runScript('push-images.sh', [], { REGISTRY: 'registry.example.com/team/' }, state);
    assert.equal(push.status, 0, push.out);
    assert.deepEqual(
      push.calls.filter((c) => c.startsWith('docker')),
      [
        `docker tag gpumon:${version} registry.example.com/team/gpumon:${version}`,
        `docker push registry.example.com/team/gpumon:${version}`,
      ],
    );
    const r = runScript('deploy.sh', ['--namespace', 'mon'], {}, state);
    assert.equal(r.status, 0, r.out);
    const applied = parseManifests(readFileSync(join(state, 'applied.yaml'), 'utf8'), 'applied');
    const namespaces = new Set(
      applied.map((m) => (m.kind === 'Namespace' ? m.metadata.name : m.metadata.namespace)),
    );
    assert.deepEqual([...namespaces].sort(), ['mon', 'mon-agent']);
    const agent = applied.find((m) => m.kind === 'DaemonSet') as unknown as {
      spec: {
        template: { spec: { containers: { image: string; env: { name: string; value?: string }[] }[] } };
      };
    };
    const c = agent.spec.template.spec.containers[0];
    assert.equal(c?.image, `registry.example.com/team/gpumon:${version}`);
    assert.equal(c?.env.find((e) => e.name === 'GPUMON_KAFKA_BROKERS')?.value, 'kafka.mon.svc:9092');
    assert.ok(r.calls.some((x) => x.startsWith('create secret generic grafana-admin -n mon ')));
    assert.match(r.out, /kubectl port-forward -n mon svc\/grafana 3000:3000/);
  });

  it('refuses a bad option, a bad namespace, an overlay that is not one', () => {
    assert.equal(runScript('deploy.sh', ['--frobnicate']).status, 2);
    assert.match(runScript('deploy.sh', ['--namespace', 'Bad_Name']).out, /DNS label/);
    assert.match(runScript('deploy.sh', ['--overlay', scratch]).out, /has no kustomization\.yaml/);
  });
});

describe('undeploy.sh', () => {
  it('removes the workloads and keeps the namespaces, volumes and Secrets', () => {
    const r = runScript('undeploy.sh', []);
    assert.equal(r.status, 0, r.out);
    const deletes = r.calls.filter((c) => c.startsWith('delete'));
    assert.equal(deletes.length, 1, deletes.join('\n'));
    assert.match(
      deletes[0] ?? '',
      /^delete -k \S+ -l gpumon\.io\/data!=true --ignore-not-found --wait=true$/,
    );
    // what the selector keeps: the namespaces and every PersistentVolumeClaim (and claim template)
    const stack = readFileSync(join(r.state, 'deploy', 'gpu-monitoring', 'kustomization.yaml'), 'utf8');
    assert.match(stack, /resources:/);
    const rendered = parseManifests(
      run(kubectl(), ['kustomize', join(KUBERNETES_DIR, 'stack')]).stdout,
      'stack',
    );
    for (const m of rendered) {
      const keep = m.metadata.labels?.['gpumon.io/data'] === 'true';
      assert.equal(
        keep,
        m.kind === 'Namespace' || m.kind === 'PersistentVolumeClaim',
        `${m.kind}/${m.metadata.name}`,
      );
      const templates = (
        m.spec as { volumeClaimTemplates?: { metadata: { labels?: Record<string, string> } }[] }
      )?.volumeClaimTemplates;
      for (const t of templates ?? []) assert.equal(t.metadata.labels?.['gpumon.io/data'], 'true');
    }
  });

  it('deletes the data only when asked, and confirmed (--yes for scripts)', () => {
    const refused = runScript('undeploy.sh', ['--delete-data']);
    assert.equal(refused.status, 1);
    assert.match(refused.out, /--delete-data asks first/);
    assert.deepEqual(
      refused.calls.filter((c) => c.startsWith('delete')),
      [],
    );
    const yes = runScript('undeploy.sh', ['--delete-data', '--yes']);
    assert.equal(yes.status, 0, yes.out);
    assert.deepEqual(
      yes.calls.filter((c) => c.startsWith('delete')).map((c) => c.replace(/-k \S+/, '-k DIR')),
      ['delete -k DIR --ignore-not-found --wait=true'],
    );
  });
});

describe('build-images.sh and push-images.sh', () => {
  it('build gpumon:<package version> with docker or podman, --base as NODE_IMAGE', () => {
    const r = runScript('build-images.sh', ['--base', 'node:22-bookworm-slim'], { GPUMON_BUILDER: 'docker' });
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(r.calls, [
      `docker build -t gpumon:${version} -f ${ROOT}/Dockerfile --build-arg NODE_IMAGE=node:22-bookworm-slim ${ROOT}`,
    ]);
    assert.match(readText('Dockerfile'), /^ARG NODE_IMAGE=/m);
    const none = runScript('build-images.sh', [], { GPUMON_BUILDER: 'no-such-builder' });
    assert.equal(none.status, 1);
    assert.match(none.out, /neither docker nor podman is installed/);
  });

  it('push-images.sh asks for REGISTRY', () => {
    const r = runScript('push-images.sh', []);
    assert.equal(r.status, 1);
    assert.match(r.out, /set REGISTRY, e\.g\. REGISTRY=registry\.example\.com\/team/);
  });

  it('push-images.sh --mirror pushes the images the stack pins', () => {
    const state = mkdtempSync(join(scratch, 'state-'));
    const r = runScript('push-images.sh', ['--mirror'], { REGISTRY: 'reg.example' }, state);
    assert.equal(r.status, 0, r.out);
    const stackImages = new Set(
      [...run(kubectl(), ['kustomize', join(KUBERNETES_DIR, 'stack')]).stdout.matchAll(/image: (\S+)/g)]
        .map((m) => m[1] as string)
        .filter((i) => !i.startsWith('gpumon:')),
    );
    const pushed = r.calls.filter((c) => c.startsWith('docker push reg.example/') && !c.includes('/gpumon:'));
    assert.deepEqual(
      pushed.map((c) => c.replace('docker push reg.example/', '')).sort(),
      [...stackImages].sort(),
    );
    assert.ok(existsSync(join(state, 'deploy', 'mirrored')));
  });
});

describe('every script', () => {
  const shells = ['build-images.sh', 'push-images.sh', 'deploy.sh', 'undeploy.sh'];

  it('has --help, strict mode and no listening on every address', () => {
    for (const name of shells) {
      const text = readText('deploy', 'kubernetes', name);
      assert.match(text, /^set -euo pipefail$/m, name);
      const r = run('bash', [script(name), '--help']);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: /, name);
    }
    for (const name of [...shells, 'lib.sh', 'deploy.bat', 'build-images.bat', 'README.md']) {
      assert.doesNotMatch(readText('deploy', 'kubernetes', name), /0\.0\.0\.0|--address/, name);
    }
  });

  for (const [sh, bat] of [
    ['deploy.sh', 'deploy.bat'],
    ['build-images.sh', 'build-images.bat'],
  ]) {
    it(`${bat} runs the steps of ${sh}, in order, with the same subcommands`, () => {
      const shText =
        readText('deploy', 'kubernetes', sh as string) + readText('deploy', 'kubernetes', 'lib.sh');
      const batText = readText('deploy', 'kubernetes', bat as string);
      assert.ok(steps(shText, false).length >= 2);
      assert.deepEqual(steps(batText, true), steps(shText, false));
      const tool = sh === 'deploy.sh' ? 'kubectl' : 'builder';
      const shOwn = readText('deploy', 'kubernetes', sh as string);
      const shCommands = subcommands(sh === 'deploy.sh' ? shText : shOwn, tool);
      assert.deepEqual(
        subcommands(batText, tool),
        shCommands.filter((c) => c !== 'config'),
        bat,
      );
      assert.match(batText, /\r\n/, `${bat}: CRLF line endings for cmd.exe`);
    });
  }
});

describe('deploy/kubernetes/README.md', () => {
  it("gives the users' guide commands verbatim", () => {
    const readme = readText('deploy', 'kubernetes', 'README.md');
    for (const command of [
      'kubectl get pods -n gpu-monitoring',
      'kubectl get cronjob -n gpu-monitoring gpu-batch-analytics',
      'kubectl create job -n gpu-monitoring --from=cronjob/gpu-batch-analytics manual-run-$(date +%s)',
      'kubectl logs -n gpu-monitoring -l app=batch-analytics-pod',
      'kubectl scale deployment -n gpu-monitoring spark-worker --replicas=4',
      'kubectl port-forward -n gpu-monitoring svc/grafana 3000:3000',
      'kubectl port-forward -n gpu-monitoring svc/spark-master 8080:8080',
      'kubectl port-forward -n gpu-monitoring svc/namenode 9870:9870',
      'kubectl get pvc -n gpu-monitoring',
      'kubectl exec -n gpu-monitoring namenode-0 -- hdfs dfs -ls /',
    ]) {
      assert.ok(readme.includes(command), `missing: ${command}`);
    }
    for (const name of [
      'deploy.sh',
      'deploy.bat',
      'undeploy.sh',
      'build-images.sh',
      'build-images.bat',
      'push-images.sh',
    ]) {
      assert.ok(readme.includes(name), name);
    }
  });
});
