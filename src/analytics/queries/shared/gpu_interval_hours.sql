-- gpu_interval_hours: the intervals between consecutive samples of each GPU, from ONE window pass, for the
-- hours of the day the run computes (each interval in the hour of the sample that opens it).
--
-- Which hours: `{{opening_in_hours(t)}}` and `{{sample_near_hours(ts)}}` are rendered for the hours a run
-- computes (analyses.ts `HourScope`): a whole day (the nightly job with no stored partial: both TRUE), one
-- hour (`gpumon analyze --hour`, whose result is kept as a partial), or the hours the night has no valid
-- partial for. The samples read are those of the hours and of the `analytics.maxGapSeconds` after each (up to
-- the day's end: as in a whole-day run, no interval crosses midnight), so an interval opened in an hour is
-- closed by its true next sample; only intervals OPENED in the hours are kept. So every sample of the day
-- opens its interval in exactly one hour, and the hours' sums add up to the day's (gpu_intervals merges them).
--
-- Samples of one GPU (same UUID) are ordered by ts; each sample i but the last OPENS the interval
-- [t(i), t(i+1)) and carries its state. An interval is VALID when 0 < t(i+1) - t(i) <= analytics.maxGapSeconds;
-- a longer one is a gap (the collector or the GPU was away) and counts for nothing: no energy, no idle time, no
-- spike across it. Two samples of the same instant (a zero interval) are not a pair either, as in the live
-- alert rules.
--
-- For every valid interval, of `seconds` length:
-- - energy_joules: trapezoid, (power(i) + power(i+1)) / 2 * seconds, where both powers are known.
-- - the time counts with the state of the sample that OPENS it (sample i): measured_seconds where the load is
--   known; idle_seconds where load < analytics.idleLoadPercent; idle_holding_memory_seconds where idle and
--   memory used > analytics.idleMemoryBytes (unknown memory: not holding).
-- - throttle time, also with the state of the opening sample's throttle (clock event) reasons, the NVML
--   bitmask gpu_clock_throttle_reasons: throttle_measured_seconds where the reasons are known;
--   throttled_seconds where any of the kinds below is active (0xFC; 0x1 GPU idle, 0x2 application clocks and
--   0x100 display clock are settings, not throttling); throttled_power_seconds: 0x4 SW power cap or 0x80 HW
--   power brake; throttled_thermal_seconds: 0x20 SW or 0x40 HW thermal slowdown; throttled_hw_slowdown_seconds:
--   0x8; throttled_sync_boost_seconds: 0x10. An interval can count in several kinds.
-- - a temperature spike where temperature(i+1) - temperature(i) > alerts.tempSpikeCelsius (both known), the
--   rule of the live alerts (src/pipeline/alerts.ts): the spike is at t(i+1), from the reading at t(i).
-- - the Kubernetes pod of the opening sample (pod_key, see pods), which held the GPU in the interval.
--
-- Shape: grouped by (uuid; namespace, pod, container; spike_t_us): the GPU and the pod by what the samples
-- carry, not by this run's keys, so partials of different runs merge. spike_t_us is NULL on the rows holding the totals of the
-- GPU's ordinary intervals (one per pod that held it, and one for the time no pod did), and the time (epoch
-- microseconds) of the spike on one row per spike, which also carries the spike's previous sample
-- (spike_previous_t_us, spike_from_celsius, spike_to_celsius). A GPU's totals are the sums over all its rows;
-- valid_seconds sums the valid intervals. So one sort serves daily_stats, idle_time, temperature_spikes and
-- pod_usage; the window is by far the most expensive step of the whole-day job.
--
-- How, at the least cost (docs/decisions/0008-daily-analytics-cost.md): the sort carries every column of
-- `keyed` through, so they are few and small (the pod as its integer key, the load as a 3-state TINYINT), and
-- the window reads the NEXT sample (LEAD) for the three values the interval needs from both ends, instead of
-- the previous sample's state for eight.
--
-- Reads: samples, gpus, pods. Kept as a relation for gpu_intervals (the night) or written as the hour's
-- partial (gpu-analytics/partials/date=D/hour=HH/, see src/analytics/hourly-job.ts).
WITH keyed AS (
  SELECT
    g.gpu_key,
    {{epoch_micros(s.ts)}} AS t_us,
    s.gpu_temperature_celsius AS temperature,
    s.gpu_power_draw_watts AS power,
    s.gpu_clock_throttle_reasons AS throttle_reasons,
    p.pod_key,
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
  LEFT JOIN pods p
    ON p.namespace IS NOT DISTINCT FROM s.namespace
    AND p.pod IS NOT DISTINCT FROM s.pod
    AND p.container IS NOT DISTINCT FROM s.container
  WHERE {{sample_near_hours(s.ts)}}
),
paired AS (
  SELECT
    gpu_key,
    pod_key,
    t_us AS opening_t_us,
    temperature AS opening_temperature,
    power AS opening_power,
    load_state AS opening_load_state,
    throttle_reasons AS opening_throttle_reasons,
    LEAD(t_us) OVER w AS closing_t_us,
    LEAD(temperature) OVER w AS closing_temperature,
    LEAD(power) OVER w AS closing_power
  FROM keyed
  WINDOW w AS (PARTITION BY gpu_key ORDER BY t_us)
),
timed AS (
  SELECT
    *,
    CASE
      WHEN closing_t_us > opening_t_us AND closing_t_us - opening_t_us <= {{analytics.maxGapSeconds}} * 1e6
        THEN (closing_t_us - opening_t_us) / 1e6
    END AS seconds
  FROM paired
),
flagged AS (
  SELECT
    *,
    CASE
      WHEN seconds IS NOT NULL AND closing_temperature - opening_temperature > {{alerts.tempSpikeCelsius}}
        THEN closing_t_us
    END AS spike_t_us
  FROM timed
  WHERE {{opening_in_hours(opening_t_us)}}
),
summed AS (
  SELECT
    gpu_key,
    pod_key,
    spike_t_us,
    count(seconds) AS intervals,
    sum(seconds) AS valid_seconds,
    sum(CASE WHEN opening_load_state IS NOT NULL THEN seconds END) AS measured_seconds,
    sum(CASE WHEN opening_load_state >= 1 THEN seconds END) AS idle_seconds,
    sum(CASE WHEN opening_load_state = 2 THEN seconds END) AS idle_holding_memory_seconds,
    sum((opening_power + closing_power) / 2 * seconds) AS energy_joules,
    sum(CASE WHEN opening_throttle_reasons IS NOT NULL THEN seconds END) AS throttle_measured_seconds,
    sum(CASE WHEN (opening_throttle_reasons & 252) <> 0 THEN seconds END) AS throttled_seconds,
    sum(CASE WHEN (opening_throttle_reasons & 132) <> 0 THEN seconds END) AS throttled_power_seconds,
    sum(CASE WHEN (opening_throttle_reasons & 96) <> 0 THEN seconds END) AS throttled_thermal_seconds,
    sum(CASE WHEN (opening_throttle_reasons & 8) <> 0 THEN seconds END) AS throttled_hw_slowdown_seconds,
    sum(CASE WHEN (opening_throttle_reasons & 16) <> 0 THEN seconds END) AS throttled_sync_boost_seconds,
    max(CASE WHEN spike_t_us IS NOT NULL THEN opening_t_us END) AS spike_previous_t_us,
    max(CASE WHEN spike_t_us IS NOT NULL THEN opening_temperature END) AS spike_from_celsius,
    max(CASE WHEN spike_t_us IS NOT NULL THEN closing_temperature END) AS spike_to_celsius
  FROM flagged
  GROUP BY gpu_key, pod_key, spike_t_us
)
SELECT
  g.uuid,
  p.namespace,
  p.pod,
  p.container,
  i.spike_t_us,
  i.intervals,
  i.valid_seconds,
  i.measured_seconds,
  i.idle_seconds,
  i.idle_holding_memory_seconds,
  i.energy_joules,
  i.throttle_measured_seconds,
  i.throttled_seconds,
  i.throttled_power_seconds,
  i.throttled_thermal_seconds,
  i.throttled_hw_slowdown_seconds,
  i.throttled_sync_boost_seconds,
  i.spike_previous_t_us,
  i.spike_from_celsius,
  i.spike_to_celsius
FROM summed i
JOIN gpus g ON g.gpu_key = i.gpu_key
LEFT JOIN pods p ON p.pod_key = i.pod_key
