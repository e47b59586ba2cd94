-- pod_usage: which pods and namespaces (teams) held the GPUs, how much of it idle, and the energy used.
--
-- Samples carry the Kubernetes pod holding their GPU (namespace, pod, container: the agent asks the kubelet;
-- NULL for a GPU no pod held, outside Kubernetes, and in archives written before these columns). The time and
-- energy are those of idle_time and daily_stats, counted for the pod of the sample that OPENS each interval:
-- - an interval [t(i-1), t(i)) of one GPU (same UUID) is VALID when 0 < t(i) - t(i-1) <= analytics.maxGapSeconds
--   (see gpu_intervals); a gap counts for nothing;
-- - held_gpu_hours: the valid intervals, in hours; measured, idle and idle-holding-memory hours as idle_time
--   counts them (load known; load < analytics.idleLoadPercent; idle and memory used >
--   analytics.idleMemoryBytes, unknown memory: not holding), with the state of the opening sample;
-- - energy_kwh: the trapezoid (P(i-1) + P(i)) / 2 * dt where both powers are known, / 3.6e6;
-- - idle_share = idle / measured (NULL when nothing was measured); gpus: GPUs (UUIDs) the pod held in any
--   valid interval; containers: distinct containers of the pod that held one.
-- So the fleet row's figures equal idle_time's and daily_stats' fleet rows: every valid interval is in one pod
-- or in none. Reads gpu_intervals (its rows per GPU and pod key) and pods (the key's strings), not the samples: no
-- second window pass.
--
-- Rows: scope 'pod', one per (namespace, pod); scope 'namespace', one per namespace, and one with namespace
-- NULL for the time no pod held the GPUs (free, or not attributed); scope 'fleet', the sums over all
-- (namespace and pod NULL). Sorted by scope (fleet, namespace, pod), namespace (NULL last), pod.
WITH intervals AS (
  SELECT
    i.gpu_key,
    p.namespace,
    CASE WHEN p.namespace IS NOT NULL THEN p.pod END AS pod,
    CASE WHEN p.namespace IS NOT NULL THEN p.container END AS container,
    i.valid_seconds,
    i.measured_seconds,
    i.idle_seconds,
    i.idle_holding_memory_seconds,
    i.energy_joules
  FROM gpu_intervals i
  LEFT JOIN pods p ON p.pod_key = i.pod_key
  WHERE i.intervals > 0
),
totals AS (
  SELECT
    namespace,
    pod,
    grouping(namespace) AS all_namespaces,
    grouping(pod) AS all_pods,
    count(DISTINCT gpu_key) AS gpus,
    count(DISTINCT container) AS containers,
    sum(valid_seconds) / 3600 AS held_gpu_hours,
    coalesce(sum(measured_seconds), 0) / 3600 AS measured_gpu_hours,
    coalesce(sum(idle_seconds), 0) / 3600 AS idle_gpu_hours,
    coalesce(sum(idle_holding_memory_seconds), 0) / 3600 AS idle_holding_memory_gpu_hours,
    coalesce(sum(energy_joules), 0) / 3.6e6 AS energy_kwh
  FROM intervals
  GROUP BY GROUPING SETS ((namespace, pod), (namespace), ())
)
SELECT
  CASE WHEN all_namespaces = 1 THEN 'fleet' WHEN all_pods = 1 THEN 'namespace' ELSE 'pod' END AS scope,
  namespace,
  pod,
  gpus,
  containers,
  held_gpu_hours,
  measured_gpu_hours,
  idle_gpu_hours,
  idle_holding_memory_gpu_hours,
  CASE WHEN measured_gpu_hours > 0 THEN idle_gpu_hours / measured_gpu_hours END AS idle_share,
  energy_kwh
FROM totals
WHERE all_pods = 1 OR pod IS NOT NULL
ORDER BY scope, namespace NULLS LAST, pod
