#!/usr/bin/env bash
# Prints the offsets of topic partitions, as Apache Kafka's bin/kafka-get-offsets.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.GetOffsetShell "$@"
