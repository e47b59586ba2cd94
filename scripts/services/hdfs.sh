#!/usr/bin/env bash
# Apache Hadoop HDFS for the tests: one NameNode and one DataNode, two JVMs, on 127.0.0.1, WebHDFS on,
# permissions off, replication 1, a fresh file system (formatted) on every start.
#
#   scripts/services/hdfs.sh start      fetches Hadoop's jars (first run), formats a fresh name directory,
#                                       starts the NameNode and the DataNode, waits until WebHDFS answers
#                                       LISTSTATUS, the DataNode is live and a file can be written through the
#                                       two-step CREATE (its redirect must name 127.0.0.1), then prints
#                                       GPUMON_TEST_WEBHDFS=http://127.0.0.1:PORT and GPUMON_TEST_HDFS=hdfs://127.0.0.1:PORT.
#                                       When running, only prints them (and restarts a stopped DataNode).
#   scripts/services/hdfs.sh stop       stops the DataNode, then the NameNode: SIGTERM, up to 30 s, then SIGKILL.
#                                       Keeps the run's data and logs.
#   scripts/services/hdfs.sh status     prints the addresses and exits 0 when both run, else exits 3.
#   scripts/services/hdfs.sh logs [N]   prints the last N (200) lines of each log of the latest run.
#   scripts/services/hdfs.sh datanode-stop [--kill]
#                                       stops only the DataNode (SIGTERM, or SIGKILL with --kill: a crash);
#                                       the NameNode stays up, so WebHDFS answers and writes fail.
#   scripts/services/hdfs.sh datanode-start
#                                       starts the DataNode again (same ports and data) and waits until a file
#                                       can be written again.
#   scripts/services/hdfs.sh dfs ARGS...  Hadoop's `hdfs dfs` (FsShell) against this file system, e.g. dfs -ls -R /
#
# Settings (environment): GPUMON_HDFS_PORT (NameNode RPC, 19000), GPUMON_HDFS_HTTP_PORT (NameNode HTTP and
# WebHDFS, 19870), GPUMON_HDFS_DATANODE_PORT (data transfer, 19866), GPUMON_HDFS_DATANODE_HTTP_PORT (19864),
# GPUMON_HDFS_DATANODE_IPC_PORT (19867): 0 picks a free port; GPUMON_HDFS_HEAP_OPTS (-Xms64m -Xmx256m, each JVM),
# GPUMON_HDFS_START_TIMEOUT (120 s), GPUMON_SERVICES_DIR (state, data and logs; default .tmp/services).
# The Hadoop version is the one pinned in scripts/services/hdfs/pom.xml. See docs/services.md.
set -euo pipefail
svc=hdfs
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/services/lib.sh
source "$here/lib.sh"

pom="$here/hdfs/pom.xml"
version="$(sed -n 's:.*<hadoop.version>\(.*\)</hadoop.version>.*:\1:p' "$pom")"
[ -n "$version" ] || die "no <hadoop.version> in $pom"
cache="$repo_root/.cache/hdfs/$version"
libs="$cache/libs"
# Hadoop's HTTP servers look up `webapps/<name>` on the class path; Maven's hadoop-hdfs jar has none (the
# tarball ships them beside the jars). WebHDFS is registered in code, so empty web apps do (no HTML UI).
webroot="$cache/webroot"
dn_pid_file="$state_dir/datanode.pid"
nn_class=org.apache.hadoop.hdfs.server.namenode.NameNode
dn_class=org.apache.hadoop.hdfs.server.datanode.DataNode

need_java() {
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    [ "$(id -u)" = 0 ] || die "java 17 and mvn are required (apt-get install openjdk-17-jdk-headless maven)"
    say "installing openjdk-17-jdk-headless and maven (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven >&2; }
  fi
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
  [ "${major:-0}" -ge 11 ] || die "Hadoop $version needs Java 11 or newer; java is ${major:-unknown}"
}

# Hadoop's jars and their runtime dependencies from Maven Central, once per version, into .cache/hdfs/<version>/libs.
fetch_libs() {
  local want
  want="$(sha256sum <"$pom")"
  if ! { [ -f "$libs/.complete" ] && [ "$(cat "$libs/.complete")" = "$want" ]; }; then
    say "fetching Hadoop $version jars from Maven Central into $libs (first run)"
    rm -rf "$libs.tmp"
    mkdir -p "$cache"
    local mvn_rc=0
    mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$libs.tmp" >"$cache/mvn.log" 2>&1 || mvn_rc=$?
    sed 's/\x1b\[[0-9;]*m//g' "$cache/mvn.log" | grep . >&2 || true
    [ "$mvn_rc" = 0 ] || die "mvn dependency:copy-dependencies failed for $pom (exit $mvn_rc)"
    [ -f "$libs.tmp/hadoop-hdfs-$version.jar" ] || die "hadoop-hdfs-$version.jar missing after mvn"
    rm -rf "$libs"
    mv "$libs.tmp" "$libs"
    echo "$want" >"$libs/.complete"
  fi
  local app
  for app in hdfs datanode secondary journal static; do
    [ -f "$webroot/webapps/$app/WEB-INF/web.xml" ] && continue
    mkdir -p "$webroot/webapps/$app/WEB-INF"
    printf '%s\n' '<?xml version="1.0" encoding="UTF-8"?>' \
      '<web-app xmlns="http://java.sun.com/xml/ns/javaee" version="3.0"></web-app>' \
      >"$webroot/webapps/$app/WEB-INF/web.xml"
  done
}

# The setting $1 (a port, 0 for a free one) as a port nobody listens on; $2 is its variable's name.
port_setting() { pick_port "${!2:-$1}" "$2"; }

prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }

write_config() {
  local run="$1" nn="$2" http="$3" dn="$4" dnhttp="$5" dnipc="$6"
  mkdir -p "$run/conf" "$run/name" "$run/data" "$run/tmp" "$run/logs"
  {
    echo '<?xml version="1.0"?>'
    echo '<!-- Generated by scripts/services/hdfs.sh: a one-DataNode HDFS on 127.0.0.1 for tests. -->'
    echo '<configuration>'
    prop fs.defaultFS "hdfs://127.0.0.1:$nn"
    prop hadoop.tmp.dir "$run/tmp"
    prop hadoop.security.authentication simple
    prop hadoop.http.staticuser.user gpumon
    echo '</configuration>'
  } >"$run/conf/core-site.xml"
  {
    echo '<?xml version="1.0"?>'
    echo '<!-- Generated by scripts/services/hdfs.sh: a one-DataNode HDFS on 127.0.0.1 for tests. -->'
    echo '<configuration>'
    prop dfs.namenode.name.dir "file://$run/name"
    prop dfs.datanode.data.dir "file://$run/data"
    prop dfs.replication 1
    prop dfs.permissions.enabled false
    prop dfs.webhdfs.enabled true
    prop dfs.namenode.rpc-address "127.0.0.1:$nn"
    prop dfs.namenode.http-address "127.0.0.1:$http"
    prop dfs.namenode.https-address 127.0.0.1:0
    prop dfs.namenode.secondary.http-address 127.0.0.1:0
    prop dfs.namenode.secondary.https-address 127.0.0.1:0
    prop dfs.datanode.address "127.0.0.1:$dn"
    prop dfs.datanode.http.address "127.0.0.1:$dnhttp"
    prop dfs.datanode.https.address 127.0.0.1:0
    prop dfs.datanode.ipc.address "127.0.0.1:$dnipc"
    # The DataNode registers as 127.0.0.1: WebHDFS redirects CREATE/APPEND/OPEN to this name, which every
    # client can reach (the machine's hostname may not resolve).
    prop dfs.datanode.hostname 127.0.0.1
    prop dfs.namenode.datanode.registration.ip-hostname-check false
    # Out of safe mode at once (a fresh name directory has no blocks to wait for).
    prop dfs.namenode.safemode.extension 0
    prop dfs.namenode.safemode.min.datanodes 0
    # Heartbeats every second; a stopped DataNode is declared dead after 2 * 5 s + 10 * 1 s = 20 s.
    prop dfs.heartbeat.interval 1
    prop dfs.namenode.heartbeat.recheck-interval 5000
    # One DataNode: a write pipeline cannot replace a failed node with another one.
    prop dfs.client.block.write.replace-datanode-on-failure.enable false
    # Few threads: a test machine has 2 cores.
    prop dfs.namenode.handler.count 8
    prop dfs.namenode.service.handler.count 4
    prop dfs.datanode.handler.count 4
    prop dfs.namenode.resource.du.reserved 0
    echo '</configuration>'
  } >"$run/conf/hdfs-site.xml"
  cat >"$run/conf/log4j.properties" <<PROPS
# Generated by scripts/services/hdfs.sh: INFO into logs/\${gpumon.log.name}.log, errors on the console too.
log4j.rootLogger=INFO,file,console
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/logs/\${gpumon.log.name}.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d{ISO8601} %p %c: %m%n
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.Target=System.err
log4j.appender.console.Threshold=ERROR
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
log4j.logger.BlockStateChange=WARN
log4j.logger.com.sun.jersey=WARN
PROPS
  {
    echo "nn=$nn"
    echo "http=$http"
    echo "dn=$dn"
    echo "dnhttp=$dnhttp"
    echo "dnipc=$dnipc"
  } >"$run/ports"
}

# Sets `cmd` to the java command line of the Hadoop class $2 for the run $1, as the process named $3 (namenode,
# datanode, format, dfs), with ARGS...
hadoop_cmd() {
  local run="$1" class="$2" name="$3"
  shift 3
  local heap
  # shellcheck disable=SC2206 # word splitting wanted: JVM options
  heap=(${GPUMON_HDFS_HEAP_OPTS:--Xms64m -Xmx256m})
  cmd=(java "${heap[@]}" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    -Djava.net.preferIPv4Stack=true "-Dproc_$name"
    "-Dhadoop.log.dir=$run/logs" "-Dhadoop.home.dir=$cache" "-Dgpumon.log.name=$name"
    "-Dlog4j.configuration=file:$run/conf/log4j.properties"
    --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
    -cp "$run/conf:$webroot:$libs/*" "$class" "$@")
}

# Starts the daemon $2 (NameNode or DataNode class) of the run $1, in its own session, its output appended to
# logs/$3.out; writes its pid to $4.
spawn_daemon() {
  local run="$1" class="$2" name="$3" pidf="$4"
  hadoop_cmd "$run" "$class" "$name"
  setsid "${cmd[@]}" </dev/null >>"$run/logs/$name.out" 2>&1 9>&- &
  echo $! >"$pidf"
}

# Waits until WebHDFS answers LISTSTATUS, a DataNode is live and a file can be written, read and deleted
# through the two-step CREATE (hdfs/ready.mjs); fails early when the NameNode or the DataNode exits.
wait_ready() {
  local run="$1" http="$2" timeout="$3"
  node "$here/hdfs/ready.mjs" "http://127.0.0.1:$http" "$timeout" "$(cat "$pid_file")" "$(cat "$dn_pid_file")" \
    >"$run/logs/ready.out" 2>&1 && return 0
  cat "$run/logs/ready.out" >&2
  return 1
}

# Pid of the running DataNode, if any.
dn_pid() {
  local pid
  [ -f "$dn_pid_file" ] || return 1
  pid="$(cat "$dn_pid_file" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dn_class" || return 1
  echo "$pid"
}
nn_pid() { running_pid "$nn_class"; }

start() {
  local pid
  lock_service
  if pid="$(nn_pid)"; then
    if [ -f "$env_file" ]; then
      run="$(readlink -f "$run_link")"
      if ! dn_pid >/dev/null; then
        say "the DataNode is not running: starting it"
        datanode_start_locked
      fi
      print_env
      return 0
    fi
    say "NameNode pid $pid never became ready (an interrupted start): stopping it"
    if pid="$(dn_pid)"; then stop_pid "$pid" 10; fi
    stop_pid "$(nn_pid)" 10 || true
  fi
  if pid="$(dn_pid)"; then
    say "a DataNode without NameNode (pid $pid): stopping it"
    stop_pid "$pid" 10
  fi
  need_java
  fetch_libs
  rm -f "$pid_file" "$dn_pid_file" "$env_file"
  local nn http dn dnhttp dnipc timeout started
  nn="$(port_setting 19000 GPUMON_HDFS_PORT)"
  http="$(port_setting 19870 GPUMON_HDFS_HTTP_PORT)"
  dn="$(port_setting 19866 GPUMON_HDFS_DATANODE_PORT)"
  dnhttp="$(port_setting 19864 GPUMON_HDFS_DATANODE_HTTP_PORT)"
  dnipc="$(port_setting 19867 GPUMON_HDFS_DATANODE_IPC_PORT)"
  [ "$(printf '%s\n' "$nn" "$http" "$dn" "$dnhttp" "$dnipc" | sort -u | wc -l)" = 5 ] ||
    die "the HDFS ports must differ: $nn $http $dn $dnhttp $dnipc"
  run="$(new_run_dir)"
  write_config "$run" "$nn" "$http" "$dn" "$dnhttp" "$dnipc"
  started=$SECONDS
  hadoop_cmd "$run" "$nn_class" format -format -force -nonInteractive -clusterid gpumon-test
  "${cmd[@]}" </dev/null >"$run/logs/format.out" 2>&1 ||
    { cat "$run/logs/format.out" >&2; die "namenode -format failed"; }
  spawn_daemon "$run" "$nn_class" namenode "$pid_file"
  spawn_daemon "$run" "$dn_class" datanode "$dn_pid_file"
  timeout="${GPUMON_HDFS_START_TIMEOUT:-120}"
  if ! wait_ready "$run" "$http" "$timeout"; then
    print_logs 40 >&2 || true
    stop_all 10
    die "HDFS did not become ready (logs above, and in $run/logs)"
  fi
  {
    echo "GPUMON_TEST_WEBHDFS=http://127.0.0.1:$http"
    echo "GPUMON_TEST_HDFS=hdfs://127.0.0.1:$nn"
  } >"$env_file"
  say "Hadoop HDFS $version ready in $((SECONDS - started))s: WebHDFS http://127.0.0.1:$http, hdfs://127.0.0.1:$nn" \
    "(NameNode pid $(cat "$pid_file"), DataNode pid $(cat "$dn_pid_file"), data and logs in $run)"
  print_env
}

# Starts the DataNode of the current run and waits until it takes writes (the caller holds the lock).
datanode_start_locked() {
  local run http
  run="$(readlink -f "$run_link")"
  [ -f "$run/ports" ] || die "no run to start a DataNode in: run scripts/services/hdfs.sh start"
  http="$(sed -n 's/^http=//p' "$run/ports")"
  local p
  while IFS= read -r p; do
    if port_open "$p"; then die "the DataNode's port 127.0.0.1:$p is in use by another process"; fi
  done < <(sed -n 's/^dn[a-z]*=//p' "$run/ports")
  spawn_daemon "$run" "$dn_class" datanode "$dn_pid_file"
  if ! wait_ready "$run" "$http" "${GPUMON_HDFS_START_TIMEOUT:-120}"; then
    die "the DataNode did not come back (logs: scripts/services/hdfs.sh logs)"
  fi
  say "DataNode ready again (pid $(cat "$dn_pid_file"))"
}

stop_all() {
  local wait_s="$1" pid
  if pid="$(dn_pid)"; then stop_pid "$pid" "$wait_s"; fi
  if pid="$(nn_pid)"; then stop_pid "$pid" "$wait_s"; fi
  rm -f "$pid_file" "$dn_pid_file" "$env_file"
}

stop() {
  lock_service
  local any=""
  if dn_pid >/dev/null || nn_pid >/dev/null; then any=1; fi
  stop_all 30
  [ -z "$any" ] || say "stopped; logs stay in $(readlink -f "$run_link")/logs until the next start"
}

status() {
  if nn_pid >/dev/null && dn_pid >/dev/null && [ -f "$env_file" ]; then
    print_env
    return 0
  fi
  if nn_pid >/dev/null && [ -f "$env_file" ]; then
    say "the NameNode runs but the DataNode does not (scripts/services/hdfs.sh datanode-start)"
  else
    say "not running"
  fi
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  logs) print_logs "${2:-200}" ;;
  datanode-stop)
    lock_service
    if pid="$(dn_pid)"; then
      if [ "${2:-}" = --kill ]; then
        kill -KILL "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        say "DataNode killed (pid $pid, SIGKILL)"
      else
        stop_pid "$pid" 30
        say "DataNode stopped (pid $pid)"
      fi
    else
      say "the DataNode is not running"
    fi
    rm -f "$dn_pid_file"
    ;;
  datanode-start)
    lock_service
    if ! nn_pid >/dev/null || [ ! -f "$env_file" ]; then
      die "the NameNode is not running: scripts/services/hdfs.sh start"
    fi
    if dn_pid >/dev/null; then
      say "the DataNode is already running"
    else
      datanode_start_locked
    fi
    ;;
  dfs)
    shift
    [ -f "$libs/.complete" ] || die "not fetched yet: run scripts/services/hdfs.sh start"
    run="$(readlink -f "$run_link")"
    [ -f "$run/conf/core-site.xml" ] || die "never started here: run scripts/services/hdfs.sh start"
    GPUMON_HDFS_HEAP_OPTS="-Xmx256m" hadoop_cmd "$run" org.apache.hadoop.fs.FsShell dfs "$@"
    exec "${cmd[@]}"
    ;;
  *)
    echo "usage: $0 start|stop|status|logs [N]|datanode-stop [--kill]|datanode-start|dfs ARGS..." >&2
    exit 2
    ;;
esac
