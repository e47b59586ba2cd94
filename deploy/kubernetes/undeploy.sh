#!/usr/bin/env bash
# Removes the stack that deploy.sh deployed: every workload, Service, ConfigMap and NetworkPolicy. The data
# stays: the namespaces, the PersistentVolumeClaims (Kafka, HDFS, InfluxDB, Grafana, Spark scratch, the run
# history) and the Secrets (the passwords the data was set up with), so that deploy.sh finds it all again.
# --delete-data deletes the namespaces too, and with them every volume and Secret, after asking.
#
# Usage: deploy/kubernetes/undeploy.sh [--overlay DIR] [--namespace NS] [--delete-data [--yes]] [--help]
#   --overlay DIR, --namespace NS   as given to deploy.sh
#   --delete-data                   delete the data as well (asks for the namespace's name first)
#   --yes                           with --delete-data: do not ask
# Environment: KUBECTL (default: kubectl on PATH), GPUMON_DEPLOY_STATE (as deploy.sh).
set -euo pipefail
# shellcheck source=deploy/kubernetes/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

overlay="$k8s_dir/stack"
ns=gpu-monitoring
delete_data=0
yes=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --overlay) overlay="${2:?--overlay needs a directory}"; shift 2 ;;
    --namespace) ns="${2:?--namespace needs a name}"; shift 2 ;;
    --delete-data) delete_data=1; shift ;;
    --yes) yes=1; shift ;;
    *) echo "$me: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

step "check kubectl"
find_kubectl

step "check the cluster"
check_cluster

step "render $overlay"
dir="$(render_dir "$ns" "$overlay")"
kc kustomize "$dir" >/dev/null

if [ "$delete_data" = 1 ]; then
  step "confirm"
  if [ "$yes" != 1 ]; then
    [ -t 0 ] || die "--delete-data asks first: run it in a terminal, or add --yes"
    echo "This deletes the namespaces $ns and $ns-agent with every volume (Kafka, HDFS, InfluxDB, Grafana, the" >&2
    echo "analytics run history) and the Secrets. Type $ns to go on:" >&2
    read -r answer
    [ "$answer" = "$ns" ] || die "not confirmed: nothing deleted"
  fi
  step "delete the stack and its data"
  kc delete -k "$dir" --ignore-not-found --wait=true
  say "deleted, data included"
else
  step "delete the stack (the data stays)"
  kc delete -k "$dir" -l 'gpumon.io/data!=true' --ignore-not-found --wait=true
  say "kept: the namespaces $ns and $ns-agent, their Secrets, and these volumes:"
  kc get pvc -n "$ns" >&2 || true
  say "deploy.sh finds them again; undeploy.sh --delete-data removes them"
fi
