# shellcheck shell=bash
# Shared by scripts/services/*.sh (sourced, not run): state directories, pid files, ports, waiting.
# The caller sets `svc` (the service's name) before sourcing.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Pid files, addresses and one data directory per run live here; set GPUMON_SERVICES_DIR to move them.
services_dir="${GPUMON_SERVICES_DIR:-$repo_root/.tmp/services}"
state_dir="$services_dir/${svc:?set svc before sourcing lib.sh}"
pid_file="$state_dir/pid"
env_file="$state_dir/env"
run_link="$state_dir/current"

say() { echo "$svc: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A TCP port that is free on 127.0.0.1 now.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Resolves a port setting: 0 picks a free port; anything else must be a number that nobody listens on.
pick_port() {
  local want="$1" name="$2"
  [[ "$want" =~ ^[0-9]+$ ]] || die "$name=$want is not a port number"
  if [ "$want" = 0 ]; then
    free_port
    return
  fi
  if port_open "$want"; then
    die "port 127.0.0.1:$want ($name) is already in use by another process; stop it or set $name (0 picks a free port)"
  fi
  echo "$want"
}

# Pid of our running service, if its pid file names a live process whose command line contains $1.
running_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1" || return 1
  echo "$pid"
}

# Ends process $1: SIGTERM, up to $2 seconds for it to exit, then SIGKILL.
stop_pid() {
  local pid="$1" wait_s="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "pid $pid did not exit ${wait_s}s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  die "pid $pid survived SIGKILL"
}

# Makes a fresh data directory for this run (removing those of earlier, stopped runs) and points `current` at it.
new_run_dir() {
  local d
  mkdir -p "$state_dir"
  find "$state_dir" -mindepth 1 -maxdepth 1 -type d -name 'run.*' -exec rm -rf {} +
  d="$(mktemp -d "$state_dir/run.XXXXXX")"
  ln -sfn "$d" "$run_link"
  echo "$d"
}

# The directory of the latest run when `restart` can start it again: it exists and has its `ports` file (KEY=value
# lines written by `start`). Fails when there is none (never started here, or started by an older script).
kept_run_dir() {
  local d
  d="$(readlink -f "$run_link" 2>/dev/null)" || return 1
  [ -d "$d" ] && [ -f "$d/ports" ] || return 1
  echo "$d"
}

# Before a `restart`: stops the process running_pid finds by $1, waiting up to $2 seconds for it to exit.
stop_for_restart() {
  local pid
  if pid="$(running_pid "$1")"; then
    stop_pid "$pid" "$2"
    say "stopped (pid $pid) to restart it"
  fi
}

# The common part of a `restart`, once the service's processes are stopped: forgets its pid file and
# address, then sets restart_run to the run directory to start again on and returns 0; without an earlier run,
# starts a fresh one (the service's start_locked) and returns 1.
resume_run() {
  rm -f "$pid_file" "$env_file"
  # shellcheck disable=SC2034 # read by the service script that called it
  if restart_run="$(kept_run_dir)"; then return 0; fi
  say "no earlier run to restart: starting a fresh one"
  start_locked
  return 1
}

# The port named $2 in the `ports` file of the run $1.
run_port() {
  local p
  p="$(sed -n "s/^$2=//p" "$1/ports")"
  [[ "$p" =~ ^[0-9]+$ ]] || die "no port $2 in $1/ports"
  echo "$p"
}

# Fails, naming it, when one of the ports is taken (a restart needs the very ports of its run).
ports_free() {
  local p
  for p in "$@"; do
    if port_open "$p"; then die "port 127.0.0.1:$p of the run to restart is in use by another process"; fi
  done
}

# Prints the last $1 lines of every log file of the latest run.
print_logs() {
  local lines="${1:-200}" f
  [ -d "$run_link/logs" ] || die "no logs: never started here ($state_dir)"
  while IFS= read -r f; do
    echo "===== $f (last $lines lines)"
    tail -n "$lines" "$f"
  done < <(find -L "$run_link/logs" -type f | sort)
}

# Serialises start and stop of this service between processes (two test runs starting it at once). The lock
# is fd 9: a service started under it must get `9>&-`, or it would hold the lock for its whole life.
lock_service() {
  mkdir -p "$state_dir"
  exec 9>"$state_dir/lock"
  flock -w 300 9 || die "another start or stop of $svc holds $state_dir/lock"
}

# Prints the addresses of the running service (KEY=value lines), or fails.
print_env() { cat "$env_file"; }

# For start_locked, when the service's process $1 already runs: prints its address and returns 0 when it became
# ready; otherwise (a start interrupted before readiness) stops it and returns 1, for a fresh start.
reuse_running() {
  if [ -f "$env_file" ]; then
    print_env
    return 0
  fi
  say "pid $1 never became ready (an interrupted start): stopping it"
  stop_pid "$1" 10
  return 1
}

# Waits until the service's process, just started, is ready: `await_ready NAME PID STARTED TIMEOUT INTERVAL
# WHAT CHECK...` runs CHECK... every INTERVAL seconds until it succeeds. Dies with the logs when the process
# PID exits first (naming it NAME), or when TIMEOUT seconds have passed since STARTED (a $SECONDS value),
# after stopping it, saying it waited for WHAT (e.g. "127.0.0.1:19092 to open").
await_ready() {
  local name="$1" pid="$2" started="$3" timeout="$4" interval="$5" what="$6" logs
  shift 6
  logs="$(readlink -f "$run_link")/logs"
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      print_logs 60 >&2 || true
      rm -f "$pid_file"
      die "$name exited during start-up (logs above, and in $logs)"
    fi
    if ((SECONDS - started > timeout)); then
      print_logs 60 >&2 || true
      stop_pid "$pid" 10
      rm -f "$pid_file"
      die "waited ${timeout}s for $what, in vain (logs above, and in $logs)"
    fi
    sleep "$interval"
  done
}

# The `stop` of a one-process service whose command line contains $1: SIGTERM, up to $2 seconds, then SIGKILL;
# logs stay until the next start.
stop_single() {
  local pid
  lock_service
  if pid="$(running_pid "$1")"; then
    stop_pid "$pid" "$2"
    say "stopped (pid $pid); logs stay in $(readlink -f "$run_link")/logs until the next start"
  fi
  rm -f "$pid_file" "$env_file"
}

# The `status` of a one-process service whose command line contains $1: its addresses, or exit 3.
status_single() {
  if running_pid "$1" >/dev/null && [ -f "$env_file" ]; then
    print_env
    return 0
  fi
  say "not running"
  return 3
}

# Makes sure java (at least major version $1), javac and mvn are there, installing Debian's when root.
# $2 names what needs them, for the message.
ensure_java() {
  local need="$1" who="$2" major
  if ! command -v java >/dev/null || ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then
    [ "$(id -u)" = 0 ] || die "java $need+, javac and mvn are required (apt-get install openjdk-17-jdk-headless maven)"
    say "installing openjdk-17-jdk-headless and maven (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openjdk-17-jdk-headless maven >&2; }
  fi
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
  [ "${major:-0}" -ge "$need" ] || die "$who needs Java $need or newer; java is ${major:-unknown}"
}

# Copies the runtime dependencies of pom $1 from Maven Central into $2 (once per pom content; atomically),
# logging to $2/../mvn.log; $3 is a jar that must be among them.
fetch_maven_libs() {
  local pom="$1" libs="$2" marker="$3" want mvn_rc=0 log
  want="$(sha256sum <"$pom")"
  [ -f "$libs/.complete" ] && [ "$(cat "$libs/.complete")" = "$want" ] && return 0
  say "fetching the jars of $pom from Maven Central into $libs (first run)"
  mkdir -p "$(dirname "$libs")"
  log="$(dirname "$libs")/mvn.log"
  rm -rf "$libs.tmp"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs.tmp" >"$log" 2>&1 || mvn_rc=$?
  # (-q still prints colour resets: strip escape sequences and empty lines)
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep . >&2 || true
  [ "$mvn_rc" = 0 ] || die "mvn dependency:copy-dependencies failed for $pom (exit $mvn_rc)"
  [ -f "$libs.tmp/$marker" ] || die "$marker missing after mvn"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  echo "$want" >"$libs/.complete"
}
