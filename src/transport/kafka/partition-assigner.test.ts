import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka';
import { subscriptionAwareAssigner } from './partition-assigner.ts';

/** Members by id, each with the topics it subscribes to. */
function members(subscriptions: Record<string, string[]>): Map<string, ExtendedGroupProtocolSubscription> {
  return new Map(
    Object.entries(subscriptions).map(([memberId, topics]) => [memberId, { memberId, version: 1, topics }]),
  );
}

/** Cluster metadata with `partitions[topic]` partitions per topic. */
function metadata(partitions: Record<string, number>): ClusterMetadata {
  const topics = new Map(
    Object.entries(partitions).map(([topic, count]) => [
      topic,
      { id: topic, partitions: [], partitionsCount: count, lastUpdate: 0 },
    ]),
  );
  return { id: 'cluster', brokers: new Map(), controllerId: 1, topics, lastUpdate: 0 };
}

/** What the assigner gives: member -> topic -> partitions. */
function assign(
  subscriptions: Record<string, string[]>,
  partitions: Record<string, number>,
): Record<string, Record<string, number[]>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const { memberId, assignments } of subscriptionAwareAssigner(
    'leader',
    members(subscriptions),
    new Set(),
    metadata(partitions),
  )) {
    out[memberId] = Object.fromEntries([...assignments].map(([topic, a]) => [topic, a.partitions]));
  }
  return out;
}

describe('the partition assigner of a consumer group', () => {
  it('deals the partitions of one topic in turn over the members', () => {
    assert.deepEqual(assign({ b: ['t'], a: ['t'] }, { t: 4 }), {
      a: { t: [0, 2] },
      b: { t: [1, 3] },
    });
  });

  it('gives each member all the partitions of its own topic when the members read different topics', () => {
    assert.deepEqual(assign({ a: ['metrics-1'], b: ['metrics-2'] }, { 'metrics-1': 3, 'metrics-2': 3 }), {
      a: { 'metrics-1': [0, 1, 2] },
      b: { 'metrics-2': [0, 1, 2] },
    });
  });

  it('gives a topic only to its subscribers, and still every partition exactly once', () => {
    const got = assign({ a: ['x'], b: ['x', 'y'], c: ['y'] }, { x: 3, y: 3 });
    assert.deepEqual(got.a?.y, undefined);
    assert.deepEqual(got.c?.x, undefined);
    for (const topic of ['x', 'y']) {
      const dealt = Object.values(got).flatMap((byTopic) => byTopic[topic] ?? []);
      assert.deepEqual(dealt.toSorted(), [0, 1, 2], `partitions of ${topic}`);
    }
    assert.deepEqual(got, { a: { x: [0, 2] }, b: { x: [1], y: [0, 2] }, c: { y: [1] } });
  });

  it('assigns nothing of a topic the metadata does not know yet, and the rest as usual', () => {
    assert.deepEqual(assign({ a: ['new', 't'], b: ['t'] }, { t: 2 }), { a: { t: [0] }, b: { t: [1] } });
  });

  it('leaves a member without a subscription with nothing', () => {
    assert.deepEqual(assign({ a: [], b: ['t'] }, { t: 2 }), { a: {}, b: { t: [0, 1] } });
  });
});
