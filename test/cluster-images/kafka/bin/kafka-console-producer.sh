#!/usr/bin/env bash
# Writes lines from stdin to a topic, as Apache Kafka's bin/kafka-console-producer.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConsoleProducer "$@"
