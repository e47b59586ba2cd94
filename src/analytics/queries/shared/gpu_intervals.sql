-- gpu_intervals: each GPU's valid intervals of the day, summed per GPU, pod and spike (see
-- gpu_interval_hours for what an interval, its time counts, energy and a spike are).
--
-- Merges the day's hours: those this run computed (gpu_interval_hours) and those read from the partials that
-- hourly runs kept (stored_interval_hours; `gpumon analyze --hour`, src/analytics/hourly-job.ts; empty when
-- the night computed the whole day). An interval belongs to the hour of its opening sample, so the sums of the
-- hours are the day's; a spike is one interval, in one hour. The GPU and the pod come back to this run's
-- keys (gpus, pods) by the strings the hours carry.
--
-- Shape: grouped by (gpu_key, pod_key, spike_t_us). spike_t_us is NULL on the rows holding the totals of the
-- GPU's ordinary intervals (one per pod that held it, and one for the time no pod did), and the time (epoch
-- microseconds) of the spike on one row per spike, which also carries the spike's previous sample
-- (spike_previous_t_us, spike_from_celsius, spike_to_celsius). A GPU's totals are the sums over all its rows.
--
-- Reads: gpu_interval_hours, stored_interval_hours, gpus, pods. Kept as a relation for daily_stats, idle_time, temperature_spikes and
-- pod_usage.
WITH interval_hours AS (
  SELECT
    uuid, namespace, pod, container, spike_t_us, intervals, valid_seconds, measured_seconds, idle_seconds,
    idle_holding_memory_seconds, energy_joules, throttle_measured_seconds, throttled_seconds,
    throttled_power_seconds, throttled_thermal_seconds, throttled_hw_slowdown_seconds,
    throttled_sync_boost_seconds, spike_previous_t_us, spike_from_celsius, spike_to_celsius
  FROM gpu_interval_hours
  UNION ALL
  SELECT
    uuid, namespace, pod, container, spike_t_us, intervals, valid_seconds, measured_seconds, idle_seconds,
    idle_holding_memory_seconds, energy_joules, throttle_measured_seconds, throttled_seconds,
    throttled_power_seconds, throttled_thermal_seconds, throttled_hw_slowdown_seconds,
    throttled_sync_boost_seconds, spike_previous_t_us, spike_from_celsius, spike_to_celsius
  FROM stored_interval_hours
)
SELECT
  g.gpu_key,
  p.pod_key,
  h.spike_t_us,
  CAST(sum(h.intervals) AS BIGINT) AS intervals,
  sum(h.valid_seconds) AS valid_seconds,
  sum(h.measured_seconds) AS measured_seconds,
  sum(h.idle_seconds) AS idle_seconds,
  sum(h.idle_holding_memory_seconds) AS idle_holding_memory_seconds,
  sum(h.energy_joules) AS energy_joules,
  sum(h.throttle_measured_seconds) AS throttle_measured_seconds,
  sum(h.throttled_seconds) AS throttled_seconds,
  sum(h.throttled_power_seconds) AS throttled_power_seconds,
  sum(h.throttled_thermal_seconds) AS throttled_thermal_seconds,
  sum(h.throttled_hw_slowdown_seconds) AS throttled_hw_slowdown_seconds,
  sum(h.throttled_sync_boost_seconds) AS throttled_sync_boost_seconds,
  max(h.spike_previous_t_us) AS spike_previous_t_us,
  max(h.spike_from_celsius) AS spike_from_celsius,
  max(h.spike_to_celsius) AS spike_to_celsius
FROM interval_hours h
JOIN gpus g ON g.uuid = h.uuid
LEFT JOIN pods p
  ON p.namespace IS NOT DISTINCT FROM h.namespace
  AND p.pod IS NOT DISTINCT FROM h.pod
  AND p.container IS NOT DISTINCT FROM h.container
GROUP BY g.gpu_key, p.pod_key, h.spike_t_us
