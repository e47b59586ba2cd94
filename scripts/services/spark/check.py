"""Checks of the Spark Connect server of scripts/services/spark-connect.sh, through pyspark's Connect client
(gRPC, no JVM on this side). Run with the pyspark virtual environment's python (spark-connect.sh check ...):

  check.py ready sc://127.0.0.1:15002 TIMEOUT_S
      waits until a query answers (spark.range(10) sums to 45); prints the Spark version.
  check.py parquet-sum sc://127.0.0.1:15002 hdfs://127.0.0.1:19000/path/file.parquet COLUMN
      reads the Parquet file or directory and prints one JSON line: {"count": N, "sum": S, "spark": VERSION,
      "timeZone": ...} (the sum as a string, exact: a decimal or a bigint).

Exits 1 with the error on stderr when the server does not answer or the query fails.
"""

import json
import sys
import time


def session(url):
    from pyspark.sql import SparkSession

    return SparkSession.builder.remote(url).getOrCreate()


def ready(url, timeout_s):
    deadline = time.monotonic() + float(timeout_s)
    last = None
    while True:
        try:
            spark = session(url)
            total = spark.range(10).selectExpr("sum(id) AS s").collect()[0]["s"]
            if total != 45:
                raise RuntimeError(f"sum(range(10)) = {total}, not 45")
            print(f"Spark {spark.version} answers at {url}")
            spark.stop()
            return 0
        except Exception as e:  # noqa: BLE001 - any failure means: not ready yet
            last = e
        if time.monotonic() > deadline:
            print(f"Spark Connect at {url} did not answer a query: {last}", file=sys.stderr)
            return 1
        time.sleep(1)


def parquet_sum(url, path, column):
    from pyspark.sql import functions as F

    spark = session(url)
    df = spark.read.parquet(path)
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum(column).alias("s")).collect()[0]
    print(
        json.dumps(
            {
                "count": row["n"],
                "sum": None if row["s"] is None else str(row["s"]),
                "spark": spark.version,
                "timeZone": spark.conf.get("spark.sql.session.timeZone"),
            }
        )
    )
    spark.stop()
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "ready":
        return ready(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "parquet-sum":
        return parquet_sum(argv[1], argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
