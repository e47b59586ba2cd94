-- temperature_spikes: one row per temperature spike.
--
-- A spike is a rise temperature(i) - temperature(i-1) > alerts.tempSpikeCelsius between two consecutive
-- samples of the SAME GPU (UUID), ordered by ts, no further apart than analytics.maxGapSeconds (and not of
-- the same instant): the rule of the live alerts. Samples of two GPUs are never paired, and neither are two
-- samples across a gap. The pairs come from gpu_intervals (see its header).
--
-- Columns: the GPU; ts, the sample that rose; previous_ts, the one before it; from_celsius, to_celsius;
-- rise_celsius = to - from; interval_seconds = ts - previous_ts.
SELECT
  g.host,
  g.gpu_index,
  g.uuid,
  g.model,
  {{timestamp_micros(i.spike_t_us)}} AS ts,
  {{timestamp_micros(i.spike_previous_t_us)}} AS previous_ts,
  i.spike_from_celsius AS from_celsius,
  i.spike_to_celsius AS to_celsius,
  i.spike_to_celsius - i.spike_from_celsius AS rise_celsius,
  (i.spike_t_us - i.spike_previous_t_us) / 1e6 AS interval_seconds
FROM gpu_intervals i
JOIN gpus g ON g.gpu_key = i.gpu_key
WHERE i.spike_t_us IS NOT NULL
ORDER BY g.host, g.gpu_index, g.uuid, i.spike_t_us
