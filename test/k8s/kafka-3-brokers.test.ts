/**
 * Kafka with 3 brokers on the test cluster, as deploy/kubernetes/components/kafka-3-brokers/ (the component of
 * overlays/kafka-3-brokers/) makes it: 3 combined broker + controller nodes in a static KRaft quorum of 3
 * voters, topics replicated 3 times, min.insync.replicas 2. Deployed alone, the stack's kafka/ with that
 * component, in a namespace of its own (deleted at the end): the quorum has 3 voters, a topic gets 3 replicas,
 * and with one node deleted acks=all writes and reads still go through.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/paths.ts';
import { requiredEnv } from '../../src/testing/services.ts';
import { kubectl, waitFor } from './kube.ts';

requiredEnv('GPUMON_TEST_CLUSTER_IMAGES', 'the test images in the cluster: test/cluster-images/build.sh');
const KAFKA_IMAGE = 'localhost/kafka:4.3.1';
const ns = `gpumon-kafka3-${randomUUID().slice(0, 8)}`;
const dir = join(PROJECT_ROOT, '.tmp', 'k8s-tests', ns);
const BIN = '/opt/kafka/bin';
const bootstrap = (pod: string) => `${pod}.kafka-headless.${ns}.svc:9092`;

/**
 * The node ids of the CurrentVoters line of `kafka-metadata-quorum.sh describe --status`, sorted; Kafka 4 prints
 * the voters as JSON-like objects: `[{"id": 0, "directoryId": "...", "endpoints": [...]}, ...]`.
 */
const voterIds = (status: string) => {
  const voters = /^CurrentVoters:\s*(.*)$/m.exec(status)?.[1] ?? '';
  return [...voters.matchAll(/"id":\s*(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
};

/** A Kafka tool in pod `pod` (stdin from `input`). */
const tool = (pod: string, script: string, args: string[], input?: string) =>
  kubectl(['exec', '-i', '-n', ns, pod, '-c', 'kafka', '--', `${BIN}/${script}`, ...args], input, 180_000);

describe('Kafka with 3 brokers (components/kafka-3-brokers) on the test cluster', {
  timeout: 20 * 60_000,
}, () => {
  before(
    async () => {
      const deploy = join(PROJECT_ROOT, 'deploy', 'kubernetes');
      const [name, tag] = KAFKA_IMAGE.split(/:(?=[^:]+$)/);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        JSON.stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          namespace: ns,
          resources: [relative(dir, join(deploy, 'stack', 'kafka'))],
          components: [relative(dir, join(deploy, 'components', 'kafka-3-brokers'))],
          images: [{ name: 'apache/kafka', newName: name, newTag: tag }],
          // gpumon's topics Job reads gpumon's ConfigMap, which is not deployed here: the test makes its topic.
          patches: [
            { patch: '$patch: delete\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: kafka-topics\n' },
          ],
        }),
      );
      await kubectl(['create', 'namespace', ns]);
      await kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted']);
      await kubectl(['apply', '-k', dir]);
      await kubectl(
        ['rollout', 'status', '-n', ns, 'statefulset/kafka', '--timeout=900s'],
        undefined,
        960_000,
      );
    },
    { timeout: 16 * 60_000 },
  );
  after(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=180s'], undefined, 200_000).catch(
      () => undefined,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('forms one KRaft quorum of the 3 nodes as voters', async () => {
    const status = await waitFor('a quorum with 3 voters', 120_000, async () => {
      const out = await tool('kafka-0', 'kafka-metadata-quorum.sh', [
        '--bootstrap-server',
        bootstrap('kafka-0'),
        'describe',
        '--status',
      ]);
      const ids = voterIds(out).join(',');
      if (ids !== '0,1,2') throw new Error(`the voters are [${ids}] in:\n${out}`);
      return out;
    });
    assert.match(status, /LeaderId:\s*[012]\b/);
  });

  it('replicates a topic 3 times by default, all in sync', async () => {
    await tool('kafka-0', 'kafka-topics.sh', [
      '--bootstrap-server',
      bootstrap('kafka-0'),
      '--create',
      '--topic',
      'replicated',
      '--partitions',
      '3',
    ]);
    const described = await waitFor('3 replicas in sync on every partition', 60_000, async () => {
      const out = await tool('kafka-0', 'kafka-topics.sh', [
        '--bootstrap-server',
        bootstrap('kafka-0'),
        '--describe',
        '--topic',
        'replicated',
      ]);
      const isr = [...out.matchAll(/Isr: ([\d,]+)/g)].map((m) => m[1]?.split(',').length);
      return isr.length === 3 && isr.every((n) => n === 3) ? out : undefined;
    });
    assert.match(described, /ReplicationFactor: 3/);
    const config = await tool('kafka-0', 'kafka-configs.sh', [
      '--bootstrap-server',
      bootstrap('kafka-0'),
      '--entity-type',
      'brokers',
      '--entity-name',
      '0',
      '--describe',
      '--all',
    ]);
    assert.match(config, /^\s*min\.insync\.replicas=2\b/m);
  });

  it('takes acks=all writes and serves them with one of the 3 nodes down', async () => {
    // Down for good (a deleted pod of the StatefulSet would come back at once): the quorum keeps 2 of 3 voters,
    // every partition 2 in-sync replicas, which min.insync.replicas=2 accepts.
    await kubectl(['scale', 'statefulset', '-n', ns, 'kafka', '--replicas=2']);
    await kubectl(['wait', '-n', ns, '--for=delete', 'pod/kafka-2', '--timeout=180s'], undefined, 200_000);
    const lines = Array.from({ length: 20 }, (_, i) => `sample-${i}`);
    await tool(
      'kafka-0',
      'kafka-console-producer.sh',
      [
        '--bootstrap-server',
        `${bootstrap('kafka-0')},${bootstrap('kafka-1')}`,
        '--topic',
        'replicated',
        '--producer-property',
        'acks=all',
        '--producer-property',
        'delivery.timeout.ms=120000',
      ],
      `${lines.join('\n')}\n`,
    );
    const read = await tool('kafka-1', 'kafka-console-consumer.sh', [
      '--bootstrap-server',
      `${bootstrap('kafka-0')},${bootstrap('kafka-1')}`,
      '--topic',
      'replicated',
      '--from-beginning',
      '--max-messages',
      String(lines.length),
      '--timeout-ms',
      '60000',
    ]);
    assert.deepEqual(read.trim().split('\n').sort(), [...lines].sort());
  });
});
