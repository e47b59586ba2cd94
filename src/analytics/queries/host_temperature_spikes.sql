-- host_temperature_spikes: one row per CPU temperature spike of a host.
--
-- The rule of the GPU temperature spikes, per host: a rise cpu_temperature(i) - cpu_temperature(i-1) >
-- alerts.tempSpikeCelsius between two consecutive instants of the SAME host (host_samples: each reading
-- counted once however many GPUs the host has), ordered by time, both readings known, no further apart than
-- analytics.maxGapSeconds (a longer interval is a gap: no spike across it). An instant without a CPU reading
-- breaks the pair, as a GPU sample without a temperature does.
--
-- Columns: host; ts, the instant that rose; previous_ts, the one before it; from_celsius, to_celsius;
-- rise_celsius = to - from; interval_seconds = ts - previous_ts.
WITH paired AS (
  SELECT
    host,
    t_us,
    cpu_temperature_celsius AS temperature,
    LAG(t_us) OVER w AS previous_t_us,
    LAG(cpu_temperature_celsius) OVER w AS previous_temperature
  FROM host_samples
  WINDOW w AS (PARTITION BY host ORDER BY t_us)
)
SELECT
  host,
  {{timestamp_micros(t_us)}} AS ts,
  {{timestamp_micros(previous_t_us)}} AS previous_ts,
  previous_temperature AS from_celsius,
  temperature AS to_celsius,
  temperature - previous_temperature AS rise_celsius,
  (t_us - previous_t_us) / 1e6 AS interval_seconds
FROM paired
WHERE t_us > previous_t_us
  AND t_us - previous_t_us <= {{analytics.maxGapSeconds}} * 1e6
  AND temperature - previous_temperature > {{alerts.tempSpikeCelsius}}
ORDER BY host, t_us
