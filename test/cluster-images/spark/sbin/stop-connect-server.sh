#!/usr/bin/env bash
# Stops the Spark Connect server that sbin/start-connect-server.sh started in the background, as the script of Spark's distribution.
if [ -z "${SPARK_HOME:-}" ]; then SPARK_HOME="$(cd "$(dirname "$0")/.." && pwd)"; fi
export SPARK_HOME
exec "$SPARK_HOME/sbin/spark-daemon.sh" stop org.apache.spark.sql.connect.service.SparkConnectServer 1
