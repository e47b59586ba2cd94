"""Reads a gpumon archive and its analytics results with Apache Spark (local mode) and prints, as one JSON
line, what the test compares with DuckDB: the schema, row counts and a few aggregates."""
import json
import sys

from pyspark.sql import SparkSession

archive = sys.argv[1]
date = sys.argv[2]
spark = (
    SparkSession.builder.master("local[1]")
    .appName("gpumon-archive-check")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
samples = spark.read.parquet(f"{archive}/gpu-metrics")
samples.createOrReplaceTempView("samples")
hourly = spark.sql(
    f"""SELECT hour(ts) AS hour, count(*) AS n, avg(CAST(gpu_utilization_percent AS DOUBLE)) AS load,
               sum(gpu_memory_used_bytes) AS memory, count(gpu_fan_speed_percent) AS fans
        FROM samples WHERE date = DATE '{date}' GROUP BY hour(ts) ORDER BY 1"""
).collect()
stats = spark.read.parquet(f"{archive}/gpu-analytics/date={date}/daily_stats.parquet")
print(
    json.dumps(
        {
            "schema": {f.name: f.dataType.simpleString() for f in samples.schema.fields},
            "rows": samples.count(),
            # Decimal columns (archive format 2) come back as Python Decimals: as floats for JSON.
            "hourly": [[r["hour"], r["n"], float(r["load"]), int(r["memory"]), r["fans"]] for r in hourly],
            "dailyStatsRows": stats.count(),
            "dailyStatsColumns": stats.columns,
        }
    )
)
spark.stop()
