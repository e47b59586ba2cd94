#!/usr/bin/env bash
# Deploys the whole stack (deploy/kubernetes/stack/, or an overlay) onto the cluster of kubectl's context:
# checks the prerequisites, generates the Secrets once (kept on every redeploy), applies, waits for every
# component and names the one that is not ready and why, then prints how to reach Grafana and the UIs.
#
# Usage: deploy/kubernetes/deploy.sh [--overlay DIR] [--namespace NS] [--timeout SECONDS] [--help]
#   --overlay DIR     a kustomization to apply (default deploy/kubernetes/stack; see deploy/kubernetes/overlays/)
#   --namespace NS    the namespace (default gpu-monitoring); the agent goes to NS-agent
#   --timeout SECONDS how long to wait for everything to be ready (default 900)
# Environment: KUBECTL (default: kubectl on PATH); REGISTRY, the registry of gpumon's image (default: what
# push-images.sh recorded, else the image gpumon:<version> as the nodes have it); GPUMON_DEPLOY_STATE, where
# the generated kustomization goes (default .cache/deploy/ in the checkout).
# Secrets (in NS): grafana-admin (admin-user, admin-password), influxdb-admin, gpumon-influxdb, grafana-influxdb
# and gpumon-serve-influxdb (username, password each), gpumon-serve-token (token: what gpumon's dashboard and
# API ask).
set -euo pipefail
# shellcheck source=deploy/kubernetes/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

overlay="$k8s_dir/stack"
ns=gpu-monitoring
timeout=900
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --overlay) overlay="${2:?--overlay needs a directory}"; shift 2 ;;
    --namespace) ns="${2:?--namespace needs a name}"; shift 2 ;;
    --timeout) timeout="${2:?--timeout needs seconds}"; shift 2 ;;
    *) echo "$me: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout $timeout: a number of seconds"
agent_ns="$ns-agent"

# A random password: 32 hex digits.
password() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
# A random bearer token: 64 hex digits.
token() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# The Secret $1 in the namespace with the literals $2..., created only when it is missing.
ensure_secret() {
  local name="$1"
  shift
  if kc get secret -n "$ns" "$name" >/dev/null 2>&1; then
    say "  Secret $name: kept"
  else
    local args=() kv
    for kv in "$@"; do args+=("--from-literal=$kv"); done
    kc create secret generic "$name" -n "$ns" "${args[@]}" >/dev/null
    say "  Secret $name: created"
  fi
}

# The Job $2 of the namespace $1 completes (0) or fails or outlives the deadline (1).
job_done() {
  local conditions
  while :; do
    conditions=" $(kc get "$2" -n "$1" -o jsonpath='{.status.conditions[?(@.status=="True")].type}' 2>/dev/null || true) "
    case "$conditions" in
      *" Complete "*) return 0 ;;
      *" Failed "*) return 1 ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 2
  done
}

# Why the workload $2 of the namespace $1 is not ready: its pods, their last event and log lines.
explain() {
  local n="$1" obj="$2" selector pods pod
  # shellcheck disable=SC2016 # a Go template, not shell
  selector="$(kc get "$obj" -n "$n" -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}' 2>/dev/null || true)"
  selector="${selector%,}"
  echo "$me: $obj (namespace $n) is not ready:" >&2
  pods=""
  if [ -n "$selector" ]; then pods="$(kc get pods -n "$n" -l "$selector" -o name 2>/dev/null || true)"; fi
  if [ -z "$pods" ]; then
    echo "  no pod; the last events of $obj:" >&2
    kc get events -n "$n" --field-selector "involvedObject.name=${obj#*/}" --sort-by=.lastTimestamp \
      -o go-template='{{range .items}}  {{.reason}}: {{.message}}{{"\n"}}{{end}}' 2>/dev/null | tail -n 3 >&2 || true
    return
  fi
  kc get pods -n "$n" -l "$selector" -o wide >&2 || true
  for pod in $pods; do
    echo "  $pod, last event:" >&2
    kc get events -n "$n" --field-selector "involvedObject.name=${pod#pod/}" --sort-by=.lastTimestamp \
      -o go-template='{{range .items}}    {{.reason}}: {{.message}}{{"\n"}}{{end}}' 2>/dev/null | tail -n 1 >&2 || true
    echo "  $pod, last log lines:" >&2
    kc logs -n "$n" "$pod" --all-containers --tail=5 2>/dev/null | sed 's/^/    /' >&2 || true
  done
}

step "check kubectl"
find_kubectl

step "check the cluster"
check_cluster

step "check the default StorageClass"
if ! kc get storageclass -o jsonpath='{range .items[*]}{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}{"\n"}{end}' |
  grep -qx true; then
  die "no default StorageClass: the stack's PersistentVolumeClaims (Kafka, HDFS, InfluxDB, Grafana, Spark) would stay Pending.
  Mark one as the default: kubectl patch storageclass NAME -p '{\"metadata\":{\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}'"
fi

step "check GPU nodes"
gpu_nodes="$(kc get nodes -l nvidia.com/gpu.present=true -o name | wc -l | tr -d ' ')"
if [ "$gpu_nodes" = 0 ]; then
  warn "no node has the label nvidia.com/gpu.present=true: the gpumon agent runs on none (the NVIDIA GPU Operator labels GPU nodes)"
else
  say "  $gpu_nodes GPU node(s)"
fi

step "render $overlay"
dir="$(render_dir "$ns" "$overlay")"
kc kustomize "$dir" >/dev/null

step "namespaces $ns and $agent_ns"
kc apply -k "$dir" -l gpumon.io/role >/dev/null

step "secrets"
ensure_secret grafana-admin admin-user=admin "admin-password=$(password)"
ensure_secret influxdb-admin username=admin "password=$(password)"
ensure_secret gpumon-influxdb username=gpumon "password=$(password)"
ensure_secret grafana-influxdb username=grafana "password=$(password)"
ensure_secret gpumon-serve-influxdb username=gpumon-serve "password=$(password)"
ensure_secret gpumon-serve-token "token=$(token)"

step "apply"
# A Job's pod template cannot change: the set-up Jobs (idempotent) are run anew on every deploy.
kc delete job -n "$ns" -l gpumon.io/init-job=true --ignore-not-found >/dev/null
# Consumers before agents (docs/encoding.md, rule 3): on an upgrade, a new agent may publish a wire version
# the running gpumon consume does not read yet (it would dead-letter those records). So everything but the
# agents goes first, and the agents follow once the new consume is rolled out.
if kc get deployment gpumon-consume -n "$ns" >/dev/null 2>&1; then
  kc apply -k "$dir" -l 'app.kubernetes.io/name!=gpumon-agent'
  if ! kc rollout status deployment/gpumon-consume -n "$ns" --timeout="${timeout}s" >/dev/null; then
    explain "$ns" deployment.apps/gpumon-consume
    die "gpumon-consume is not ready after ${timeout}s: the agents were left as they were, since new agents may publish records the running consumer does not read (deploy.sh again continues)"
  fi
fi
kc apply -k "$dir"

step "wait for every component (at most ${timeout}s)"
deadline=$((SECONDS + timeout))
for n in "$ns" "$agent_ns"; do
  for obj in $(kc get statefulset,deployment,daemonset -n "$n" -l app.kubernetes.io/part-of=gpu-monitoring -o name) \
    $(kc get job -n "$n" -l gpumon.io/init-job=true -o name); do
    left=$((deadline - SECONDS))
    [ "$left" -gt 0 ] || left=1
    case "$obj" in
      job*) ok() { job_done "$n" "$obj"; } ;;
      *) ok() { kc rollout status "$obj" -n "$n" --timeout="${left}s" >/dev/null; } ;;
    esac
    if ok; then
      say "  $obj: ready"
    else
      explain "$n" "$obj"
      die "$obj is not ready after ${timeout}s (deploy.sh again waits again; kubectl describe -n $n $obj)"
    fi
  done
done

step "access"
password_cmd="kubectl get secret -n $ns grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d; echo"
token_cmd="kubectl get secret -n $ns gpumon-serve-token -o jsonpath='{.data.token}' | base64 -d; echo"
cat <<EOF

The stack is ready in the namespace $ns (the agents: $agent_ns).

Grafana: user $(kc get secret -n "$ns" grafana-admin -o jsonpath='{.data.admin-user}' | base64 -d), password $(kc get secret -n "$ns" grafana-admin -o jsonpath='{.data.admin-password}' | base64 -d)
  (again: $password_cmd)

Each in a terminal of its own (kubectl port-forward listens on 127.0.0.1):
  kubectl port-forward -n $ns svc/grafana 3000:3000        Grafana, http://127.0.0.1:3000
  kubectl port-forward -n $ns svc/spark-master 8080:8080   the Spark master, http://127.0.0.1:8080
  kubectl port-forward -n $ns svc/namenode 9870:9870       the HDFS NameNode, http://127.0.0.1:9870
  kubectl port-forward -n $ns svc/gpumon-serve 8088:80     gpumon's dashboard, http://127.0.0.1:8088
    (it asks for its token: $token_cmd)

  kubectl get pods -n $ns
  kubectl create job -n $ns --from=cronjob/gpu-batch-analytics manual-run-\$(date +%s)
  kubectl logs -n $ns -l app=batch-analytics-pod
More: deploy/kubernetes/README.md
EOF
