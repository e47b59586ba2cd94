#!/usr/bin/env bash
# Every service the tests use: Apache Kafka (kafka.sh), InfluxDB 1.x (influxdb.sh), HDFS with WebHDFS
# (hdfs.sh) and a Spark Connect server (spark-connect.sh).
#
#   scripts/services/all.sh start    starts each (idempotent) and prints their addresses as KEY=value lines
#                                    on stdout, e.g. GPUMON_TEST_KAFKA=127.0.0.1:19092 and
#                                    GPUMON_TEST_INFLUXDB=http://127.0.0.1:18086, GPUMON_TEST_WEBHDFS=
#                                    http://127.0.0.1:19870, GPUMON_TEST_HDFS=hdfs://127.0.0.1:19000 and
#                                    GPUMON_TEST_SPARK_CONNECT=sc://127.0.0.1:15002, for the test runner to export:
#                                      eval "$(scripts/services/all.sh start | sed 's/^/export /')"
#   scripts/services/all.sh stop     stops each; leaves no process behind.
#   scripts/services/all.sh status   prints the addresses of those running; exits 3 unless all run.
#   scripts/services/all.sh logs [N] prints the last N lines of every service's logs.
# Progress and errors go to stderr. A service that fails to start fails the whole command (exit 1), after
# stopping the services this command started.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
services=(kafka influxdb hdfs spark-connect)

case "${1:-}" in
  start)
    out=""
    for s in "${services[@]}"; do
      if ! lines="$("$here/$s.sh" start)"; then
        echo "all.sh: $s failed to start; stopping the services" >&2
        for t in "${services[@]}"; do "$here/$t.sh" stop || true; done
        exit 1
      fi
      out+="$lines"$'\n'
    done
    printf '%s' "$out"
    ;;
  stop)
    rc=0
    for s in "${services[@]}"; do "$here/$s.sh" stop || rc=1; done
    exit "$rc"
    ;;
  status)
    rc=0
    for s in "${services[@]}"; do "$here/$s.sh" status || rc=3; done
    exit "$rc"
    ;;
  logs)
    for s in "${services[@]}"; do "$here/$s.sh" logs "${2:-200}" || true; done
    ;;
  *)
    echo "usage: $0 start|stop|status|logs [N]" >&2
    exit 2
    ;;
esac
