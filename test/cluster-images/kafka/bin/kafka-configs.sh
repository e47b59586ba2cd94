#!/usr/bin/env bash
# Describes and alters dynamic configurations, as Apache Kafka's bin/kafka-configs.sh.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.admin.ConfigCommand "$@"
