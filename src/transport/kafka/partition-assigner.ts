import type {
  ClusterMetadata,
  ExtendedGroupProtocolSubscription,
  GroupPartitionsAssignments,
} from '@platformatic/kafka';

/**
 * The partition assignment the group leader computes: Kafka's round-robin assignment, which gives each topic's
 * partitions only to the members that subscribe to that topic. All topic-partitions, sorted by topic then
 * partition, are dealt in turn over the members sorted by id, each going to the next member (in that cycle)
 * that subscribes to its topic.
 *
 * The client's own assigner deals the leader's topics over every member, subscribed or not. Two `gpumon
 * consume` with one group name (the default, `gpumon-<sink>`) but different topics then starved each other:
 * each got partitions of the other's topic, which it never reads, and so never read part of its own.
 */
export function subscriptionAwareAssigner(
  _leader: string,
  members: Map<string, ExtendedGroupProtocolSubscription>,
  _leaderTopics: Set<string>,
  metadata: ClusterMetadata,
): GroupPartitionsAssignments[] {
  const ids = [...members.keys()].sort();
  const subscribed = new Map(ids.map((id) => [id, new Set(members.get(id)?.topics ?? [])]));
  const assignments = new Map<string, GroupPartitionsAssignments>(
    ids.map((memberId) => [memberId, { memberId, assignments: new Map() }]),
  );
  const topics = [...new Set(ids.flatMap((id) => [...(subscribed.get(id) ?? [])]))].sort();
  let next = 0;
  for (const topic of topics) {
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let partition = 0; partition < partitions; partition++) {
      // The next member in the cycle that reads this topic; there is one, since the topic came from a member.
      for (let tries = 0; tries < ids.length; tries++, next++) {
        const id = ids[next % ids.length] as string;
        if (!subscribed.get(id)?.has(topic)) continue;
        const member = assignments.get(id) as GroupPartitionsAssignments;
        const assignment = member.assignments.get(topic) ?? { topic, partitions: [] };
        assignment.partitions.push(partition);
        member.assignments.set(topic, assignment);
        next++;
        break;
      }
    }
  }
  return [...assignments.values()];
}
