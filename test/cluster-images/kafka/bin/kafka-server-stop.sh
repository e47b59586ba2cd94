#!/usr/bin/env bash
# Stops the Kafka server of this container (SIGTERM to the kafka.Kafka JVM), as Apache Kafka's script.
if ! pids="$(pgrep -f 'java .*kafka\.Kafka ')"; then
  echo "No kafka server to stop"
  exit 1
fi
# shellcheck disable=SC2086 # a list of pids
kill -s TERM $pids
