#!/usr/bin/env bash
# Starts the Spark Connect server (org.apache.spark.sql.connect.service.SparkConnectServer, gRPC on 15002)
# through spark-submit and sbin/spark-daemon.sh, as the script of Spark's distribution (PyPI's pyspark, this
# stand-in's source, lacks it): start-connect-server.sh [spark-submit options, e.g. --master spark://...]
# SPARK_NO_DAEMONIZE=1 keeps it in the foreground.
if [ -z "${SPARK_HOME:-}" ]; then SPARK_HOME="$(cd "$(dirname "$0")/.." && pwd)"; fi
export SPARK_HOME
class=org.apache.spark.sql.connect.service.SparkConnectServer
case " $* " in
  *" --help "* | *" -h "*)
    echo "Usage: ./sbin/start-connect-server.sh [options]"
    exec "$SPARK_HOME/bin/spark-submit" --help
    ;;
esac
# shellcheck source=/dev/null
. "$SPARK_HOME/bin/load-spark-env.sh"
exec "$SPARK_HOME/sbin/spark-daemon.sh" submit "$class" 1 --name "Spark Connect server" "$@"
