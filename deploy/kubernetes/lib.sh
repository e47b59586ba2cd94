# Shared by build-images.sh, push-images.sh, deploy.sh and undeploy.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034 # the variables are the scripts'

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
k8s_dir="$repo/deploy/kubernetes"
me="$(basename "$0")"
# Where deploy.sh writes the kustomization it applies (one per namespace) and push-images.sh the registry.
state_root="${GPUMON_DEPLOY_STATE:-$repo/.cache/deploy}"
# The official images the stack runs, as its manifests pin them (test/deploy/scripts.test.ts keeps this equal).
upstream_images=(apache/kafka:4.1.1 apache/hadoop:3.4.1 apache/spark:4.0.1 influxdb:1.11.8 grafana/grafana:12.3.0)

say() { echo "$me: $*" >&2; }
warn() { echo "$me: warning: $*" >&2; }
die() {
  echo "$me: $*" >&2
  exit 1
}
# The usage text: the comment block at the top of the script, after the shebang.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# A numbered step, printed; deploy.bat prints the same steps (test/deploy/scripts.test.ts compares them).
step_no=0
step() {
  step_no=$((step_no + 1))
  say "[$step_no] $*"
}

# gpumon's version: the image tag.
pkg_version() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json" | head -n 1; }

# docker or podman, whichever is installed (GPUMON_BUILDER=docker|podman chooses).
find_builder() {
  local b
  for b in ${GPUMON_BUILDER:-docker podman}; do
    if command -v "$b" >/dev/null 2>&1; then
      echo "$b"
      return
    fi
  done
  die "neither docker nor podman is installed: install one (https://docs.docker.com/get-docker/, https://podman.io/docs/installation)${GPUMON_BUILDER:+ (GPUMON_BUILDER=$GPUMON_BUILDER)}"
}

# kubectl: $KUBECTL, else the one on PATH.
find_kubectl() {
  KUBECTL="${KUBECTL:-kubectl}"
  command -v "$KUBECTL" >/dev/null 2>&1 ||
    die "kubectl not found${KUBECTL:+ ($KUBECTL)}: install it (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL=/path/to/kubectl"
}
kc() { "$KUBECTL" "$@"; }

# The cluster of kubectl's current context answers.
check_cluster() {
  local out
  if ! out="$(kc get --raw=/readyz --request-timeout=15s 2>&1)"; then
    die "cannot reach the cluster of kubectl's context '$(kc config current-context 2>/dev/null || echo none)': ${out##*$'\n'}
  (kubectl config get-contexts lists the contexts; kubectl config use-context NAME picks one)"
  fi
}

# The relative path from the directory $1 to $2 (both absolute): kustomize takes no absolute resource path.
relpath() {
  local from="$1" to="$2" up=""
  while [ "$from" != "/" ] && [ "${to#"$from"/}" = "$to" ] && [ "$to" != "$from" ]; do
    from="$(dirname "$from")"
    up="../$up"
  done
  if [ "$to" = "$from" ]; then
    echo "${up:-.}"
  elif [ "$from" = "/" ]; then
    echo "$up${to#/}"
  else
    echo "$up${to#"$from"/}"
  fi
}

# Writes the kustomization that deploy.sh and undeploy.sh apply: the overlay $2 (a directory), in the
# namespace $1 (and $1-agent for the agent), with the registry push-images.sh recorded (or $REGISTRY) for
# gpumon's image, and for the others too when they were mirrored. Prints its directory.
render_dir() {
  local ns="$1" overlay="$2" dir registry="${REGISTRY:-}" mirror=0 version image
  [ -d "$overlay" ] || die "no overlay directory $overlay"
  overlay="$(cd "$overlay" && pwd)"
  [ -f "$overlay/kustomization.yaml" ] || die "$overlay has no kustomization.yaml"
  [[ "$ns" =~ ^[a-z0-9]([-a-z0-9]{0,55}[a-z0-9])?$ ]] || die "--namespace $ns: a DNS label of at most 57 characters (the agent's is $ns-agent)"
  if [ -z "$registry" ] && [ -f "$state_root/registry" ]; then
    registry="$(cat "$state_root/registry")"
  fi
  [ -f "$state_root/mirrored" ] && [ "$(cat "$state_root/mirrored")" = "${registry:-none}" ] && mirror=1
  dir="$state_root/$ns"
  mkdir -p "$dir"
  version="$(pkg_version)"
  {
    echo "# Written by $me: the overlay below in the namespace $ns; apply with kubectl apply -k $dir"
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    echo "  - $(relpath "$dir" "$overlay")"
    if [ -n "$registry" ]; then
      echo "images:"
      echo "  - name: gpumon"
      echo "    newName: $registry/gpumon"
      echo "    newTag: \"$version\""
      if [ "$mirror" = 1 ]; then
        for image in "${upstream_images[@]}"; do
          echo "  - name: ${image%:*}"
          echo "    newName: $registry/${image%:*}"
        done
      fi
    fi
    if [ "$ns" != gpu-monitoring ]; then
      cat <<EOF
patches:
  - target:
      namespace: gpu-monitoring
    patch: |-
      - op: replace
        path: /metadata/namespace
        value: $ns
  - target:
      namespace: gpu-monitoring-agent
    patch: |-
      - op: replace
        path: /metadata/namespace
        value: $ns-agent
  - target:
      kind: Namespace
      name: gpu-monitoring
    patch: |-
      - op: replace
        path: /metadata/name
        value: $ns
  - target:
      kind: Namespace
      name: gpu-monitoring-agent
    patch: |-
      - op: replace
        path: /metadata/name
        value: $ns-agent
  - target:
      kind: DaemonSet
      name: gpumon-agent
    patch: |-
      apiVersion: apps/v1
      kind: DaemonSet
      metadata:
        name: gpumon-agent
      spec:
        template:
          spec:
            containers:
              - name: agent
                env:
                  - name: GPUMON_KAFKA_BROKERS
                    value: kafka.$ns.svc:9092
EOF
    fi
  } >"$dir/kustomization.yaml"
  echo "$dir"
}
