-- idle_time: how long each GPU sat idle, and idle while holding memory (wasted), with fleet totals.
--
-- Time is the valid intervals between consecutive samples of a GPU (gapless: no longer than
-- analytics.maxGapSeconds, see gpu_intervals). The interval [t(i), t(i+1)) counts with the state of
-- sample i, the one that opens it:
-- - measured_seconds: intervals whose load is known.
-- - idle_seconds: load < analytics.idleLoadPercent.
-- - idle_holding_memory_seconds: idle, and memory used > analytics.idleMemoryBytes.
-- - wasted_gpu_hours = idle_holding_memory_seconds / 3600.
-- - idle_share = idle_seconds / measured_seconds (NULL when nothing was measured).
-- The last sample of the day opens no interval; time across a gap is in none of the figures.
--
-- Rows: scope 'gpu', one per GPU (UUID), and scope 'fleet', the sums over every GPU (identity NULL).
WITH per_interval AS (
  SELECT g.uuid, i.measured_seconds, i.idle_seconds, i.idle_holding_memory_seconds
  FROM gpu_intervals i
  JOIN gpus g ON g.gpu_key = i.gpu_key
),
totals AS (
  SELECT
    uuid,
    grouping(uuid) AS is_fleet,
    coalesce(sum(measured_seconds), 0) AS measured_seconds,
    coalesce(sum(idle_seconds), 0) AS idle_seconds,
    coalesce(sum(idle_holding_memory_seconds), 0) AS idle_holding_memory_seconds
  FROM per_interval
  GROUP BY GROUPING SETS ((uuid), ())
)
SELECT
  CASE WHEN t.is_fleet = 1 THEN 'fleet' ELSE 'gpu' END AS scope,
  g.host,
  g.gpu_index,
  t.uuid,
  g.model,
  t.measured_seconds,
  t.idle_seconds,
  t.idle_holding_memory_seconds,
  t.idle_holding_memory_seconds / 3600 AS wasted_gpu_hours,
  CASE WHEN t.measured_seconds > 0 THEN t.idle_seconds / t.measured_seconds END AS idle_share
FROM totals t
LEFT JOIN gpus g ON g.uuid = t.uuid
ORDER BY scope, g.host, g.gpu_index, t.uuid
