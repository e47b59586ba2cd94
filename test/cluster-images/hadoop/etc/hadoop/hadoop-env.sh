# shellcheck shell=bash
# Sourced by bin/hdfs and bin/hadoop before every command, as Hadoop's etc/hadoop/hadoop-env.sh: set
# HADOOP_HEAPSIZE_MAX, HADOOP_OPTS, HDFS_NAMENODE_OPTS, HDFS_DATANODE_OPTS, ... here or in the environment.
