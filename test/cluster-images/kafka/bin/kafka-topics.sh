#!/usr/bin/env bash
# Creates, lists, describes, alters and deletes topics, as Apache Kafka's bin/kafka-topics.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
