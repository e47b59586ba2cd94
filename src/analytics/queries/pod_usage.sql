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
-- or in none.
--
-- Rows: scope 'pod', one per (namespace, pod); scope 'namespace', one per namespace, and one with namespace
-- NULL for the time no pod held the GPUs (free, or not attributed); scope 'fleet', the sums over all
-- (namespace and pod NULL). Sorted by scope (fleet, namespace, pod), namespace (NULL last), pod.
WITH keyed AS (
  SELECT
    g.gpu_key,
    s.uuid,
    {{epoch_micros(s.ts)}} AS t_us,
    s.gpu_power_draw_watts AS power,
    s.namespace,
    s.pod,
    s.container,
    CAST(
      CASE
        WHEN s.gpu_utilization_percent IS NULL THEN NULL
        WHEN s.gpu_utilization_percent >= {{analytics.idleLoadPercent}} THEN 0
        WHEN s.gpu_memory_used_bytes > {{analytics.idleMemoryBytes}} THEN 2
        ELSE 1
      END AS TINYINT
    ) AS load_state -- 0 busy, 1 idle, 2 idle holding memory
  FROM samples s
  JOIN gpus g ON g.uuid = s.uuid
),
paired AS (
  SELECT
    uuid,
    t_us,
    power,
    LAG(t_us) OVER w AS previous_t_us,
    LAG(power) OVER w AS previous_power,
    LAG(load_state) OVER w AS previous_load_state,
    LAG(namespace) OVER w AS previous_namespace,
    LAG(pod) OVER w AS previous_pod,
    LAG(container) OVER w AS previous_container
  FROM keyed
  WINDOW w AS (PARTITION BY gpu_key ORDER BY t_us)
),
intervals AS (
  SELECT
    uuid,
    previous_namespace AS namespace,
    CASE WHEN previous_namespace IS NOT NULL THEN previous_pod END AS pod,
    CASE WHEN previous_namespace IS NOT NULL THEN previous_container END AS container,
    previous_load_state AS load_state,
    (previous_power + power) / 2 * ((t_us - previous_t_us) / 1e6) AS energy_joules,
    (t_us - previous_t_us) / 1e6 AS seconds
  FROM paired
  WHERE t_us > previous_t_us AND t_us - previous_t_us <= {{analytics.maxGapSeconds}} * 1e6
),
totals AS (
  SELECT
    namespace,
    pod,
    grouping(namespace) AS all_namespaces,
    grouping(pod) AS all_pods,
    count(DISTINCT uuid) AS gpus,
    count(DISTINCT container) AS containers,
    sum(seconds) / 3600 AS held_gpu_hours,
    coalesce(sum(CASE WHEN load_state IS NOT NULL THEN seconds END), 0) / 3600 AS measured_gpu_hours,
    coalesce(sum(CASE WHEN load_state >= 1 THEN seconds END), 0) / 3600 AS idle_gpu_hours,
    coalesce(sum(CASE WHEN load_state = 2 THEN seconds END), 0) / 3600 AS idle_holding_memory_gpu_hours,
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
