# shellcheck shell=bash
# Shared by bin/hdfs and bin/hadoop of this stand-in (sourced): the environment and the java command line of
# Apache Hadoop's scripts (libexec/hadoop-functions.sh) for the variables a deployment sets:
#   HADOOP_HOME (/opt/hadoop), HADOOP_CONF_DIR ($HADOOP_HOME/etc/hadoop; --config DIR), HADOOP_LOG_DIR
#   ($HADOOP_HOME/logs), HADOOP_ROOT_LOGGER (INFO,console; --loglevel LEVEL), HADOOP_HEAPSIZE_MAX and
#   HADOOP_HEAPSIZE_MIN (a number is MB), HADOOP_OPTS, HADOOP_CLIENT_OPTS (client commands), HDFS_<DAEMON>_OPTS
#   (daemons: HDFS_NAMENODE_OPTS, HDFS_DATANODE_OPTS, ...), HADOOP_CLASSPATH, JAVA_HOME;
#   $HADOOP_CONF_DIR/hadoop-env.sh is sourced first when it exists.

HADOOP_HOME="${HADOOP_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export HADOOP_HOME

hadoop_usage_exit() {
  echo "Usage: $(basename "$0") [--config confdir] [--loglevel loglevel] SUBCOMMAND [ARGS...]" >&2
  echo "  SUBCOMMAND: $1" >&2
  exit 1
}

# Reads the generic options (--config, --loglevel) off the command line, sources hadoop-env.sh, then runs the
# calling script's hadoop_dispatch with the rest (SUBCOMMAND ARGS...).
hadoop_main() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --config)
        [ -d "${2:-}" ] || { echo "ERROR: --config ${2:-}: no such directory" >&2; exit 1; }
        HADOOP_CONF_DIR="$2"
        shift 2
        ;;
      --loglevel)
        HADOOP_ROOT_LOGGER="${2:-INFO},console"
        shift 2
        ;;
      --daemon | --workers | --hosts | --hostnames)
        echo "ERROR: $1 is not supported by this stand-in: run the daemon in the foreground" >&2
        exit 1
        ;;
      *) break ;;
    esac
  done
  HADOOP_CONF_DIR="${HADOOP_CONF_DIR:-$HADOOP_HOME/etc/hadoop}"
  export HADOOP_CONF_DIR
  if [ -f "$HADOOP_CONF_DIR/hadoop-env.sh" ]; then
    # shellcheck source=/dev/null
    . "$HADOOP_CONF_DIR/hadoop-env.sh"
  fi
  hadoop_dispatch "$@"
}

hadoop_classpath() {
  local h="$HADOOP_HOME/share/hadoop"
  echo "$HADOOP_CONF_DIR:$h/common/lib/*:$h/common/*:$h/hdfs:$h/hdfs/*${HADOOP_CLASSPATH:+:$HADOOP_CLASSPATH}"
}

# A heap size as the JVM takes it: a bare number is MB.
hadoop_heap() { if [[ "$1" =~ ^[0-9]+$ ]]; then echo "$1m"; else echo "$1"; fi; }

# Replaces this shell with java running class $2 as subcommand $1 ("daemon" or "client" is $3), args "${@:4}".
hadoop_exec() {
  local sub="$1" class="$2" kind="$3" java user opts=()
  shift 3
  if [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"; else java=java; fi
  user="${USER:-$(id -un 2>/dev/null || id -u)}"
  [ -z "${HADOOP_HEAPSIZE_MAX:-}" ] || opts+=("-Xmx$(hadoop_heap "$HADOOP_HEAPSIZE_MAX")")
  [ -z "${HADOOP_HEAPSIZE_MIN:-}" ] || opts+=("-Xms$(hadoop_heap "$HADOOP_HEAPSIZE_MIN")")
  # Hadoop 3.4 on Java 17: without these, WebHDFS (Jersey 1 / JAXB) answers 500
  opts+=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED)
  local log_file=hadoop.log
  [ "$kind" != daemon ] || log_file="hadoop-$user-$sub-$(hostname 2>/dev/null || echo localhost).log"
  opts+=("-Dproc_$sub" -Djava.net.preferIPv4Stack=true "-Dhadoop.log.dir=${HADOOP_LOG_DIR:-$HADOOP_HOME/logs}"
    "-Dhadoop.log.file=$log_file" "-Dhadoop.home.dir=$HADOOP_HOME" "-Dhadoop.id.str=$user"
    "-Dhadoop.root.logger=${HADOOP_ROOT_LOGGER:-INFO,console}" -Dhadoop.policy.file=hadoop-policy.xml
    "-Dhadoop.security.logger=${HADOOP_SECURITY_LOGGER:-INFO,NullAppender}")
  local extra="${HADOOP_OPTS:-}"
  if [ "$kind" = daemon ]; then
    local var
    var="HDFS_$(echo "$sub" | tr '[:lower:]' '[:upper:]')_OPTS"
    extra="$extra ${!var:-}"
  else
    extra="$extra ${HADOOP_CLIENT_OPTS:-}"
  fi
  # shellcheck disable=SC2086 # HADOOP_OPTS and the like are lists of JVM options
  exec "$java" "${opts[@]}" $extra -cp "$(hadoop_classpath)" "$class" "$@"
}
