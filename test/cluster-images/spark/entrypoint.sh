#!/bin/bash
# The entrypoint of this stand-in of the apache/spark image, with the official one's behaviour:
#   driver ARGS...     spark-submit in client mode, bound to $SPARK_DRIVER_BIND_ADDRESS (Spark on Kubernetes)
#   executor           a Kubernetes executor backend, from the SPARK_EXECUTOR_* variables Spark sets
#   anything else      run as given (pass-through)
# Under a uid without a passwd entry (an arbitrary runAsUser) it gives the process one through nss_wrapper,
# as the official entrypoint does (Hadoop's login needs a user name). Run as root, it switches to spark.
set -eo pipefail

fake_passwd_entry() {
  local uid gid wrapper
  uid="$(id -u)"
  getent passwd "$uid" >/dev/null 2>&1 && return 0
  gid="$(id -g)"
  for wrapper in /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so /lib/*/libnss_wrapper.so; do
    [ -s "$wrapper" ] || continue
    NSS_WRAPPER_PASSWD="$(mktemp)"
    NSS_WRAPPER_GROUP="$(mktemp)"
    export LD_PRELOAD="$wrapper" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    printf 'spark:x:%s:%s:%s:%s:/bin/false\n' "$uid" "$gid" "${SPARK_USER_NAME:-anonymous uid}" "$SPARK_HOME" \
      >"$NSS_WRAPPER_PASSWD"
    printf 'spark:x:%s:\n' "$gid" >"$NSS_WRAPPER_GROUP"
    return 0
  done
}

if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME="$(java -XshowSettings:properties -version 2>&1 >/dev/null | sed -n 's/^ *java.home = //p')"
fi

classpath="${SPARK_CLASSPATH:-}:$SPARK_HOME/jars/*"
[ -z "${SPARK_EXTRA_CLASSPATH:-}" ] || classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
[ -z "${HADOOP_CONF_DIR+x}" ] || classpath="$HADOOP_CONF_DIR:$classpath"
if [ -n "${SPARK_CONF_DIR+x}" ]; then classpath="$SPARK_CONF_DIR:$classpath"; else classpath="$SPARK_HOME/conf:$classpath"; fi
classpath="$classpath:$PWD"

as_spark=()
[ "$(id -u)" != 0 ] || as_spark=(setpriv --reuid=spark --regid=spark --init-groups)

case "${1:-}" in
  driver)
    shift
    fake_passwd_entry
    exec "${as_spark[@]}" /usr/bin/tini -s -- "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS:-}" \
      --deploy-mode client "$@"
    ;;
  executor)
    shift
    java_opts=()
    for v in "${!SPARK_JAVA_OPT_@}"; do java_opts+=("${!v}"); done
    fake_passwd_entry
    exec "${as_spark[@]}" /usr/bin/tini -s -- "$JAVA_HOME/bin/java" "${java_opts[@]}" \
      -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" -cp "$classpath:${SPARK_DIST_CLASSPATH:-}" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" --executor-id "$SPARK_EXECUTOR_ID" --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID" --podName "$SPARK_EXECUTOR_POD_NAME"
    ;;
  *)
    fake_passwd_entry
    exec "$@"
    ;;
esac
