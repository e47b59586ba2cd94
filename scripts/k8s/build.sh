#!/usr/bin/env bash
# Builds the Kubernetes binaries the test cluster runs, from the Go module proxy, and caches them by version
# outside the clone (CI clones afresh): kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy and kubectl from k8s.io/kubernetes, etcd from go.etcd.io/etcd/server/v3, CoreDNS, crictl
# (sigs.k8s.io/cri-tools), rancher's local-path-provisioner and the pause binary (scripts/k8s/pause/main.go).
# About 7 minutes cold on 2 cores; 0.1 s once cached. Prints the bin directory on stdout.
# Usage: scripts/k8s/build.sh [--help]
# Environment: GPUMON_CACHE (~/.cache/gpumon), K8S_VERSION, ETCD_VERSION, COREDNS_VERSION, CRICTL_VERSION, LPP_VERSION.
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.4}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.12.4}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
LPP_VERSION="${LPP_VERSION:-v0.0.30}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${GPUMON_CACHE:-$HOME/.cache/gpumon}"
bin="$cache/k8s/$K8S_VERSION-etcd$ETCD_VERSION-coredns$COREDNS_VERSION/bin"
k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
all=("${k8s_cmds[@]}" etcd coredns)

# The extras are built into the same directory, each with a stamp of its version (the pause binary: of its
# source), rebuilt when that changes.
pause_stamp="$(sha256sum <"$here/pause/main.go" | cut -c1-16)"
extra_ok() { [ -x "$bin/$1" ] && [ "$(cat "$bin/$1.version" 2>/dev/null)" = "$2" ]; }
missing=0
for c in "${all[@]}"; do [ -x "$bin/$c" ] || missing=1; done
extra_ok crictl "$CRICTL_VERSION" || missing=1
extra_ok local-path-provisioner "$LPP_VERSION" || missing=1
extra_ok gpumon-pause "$pause_stamp" || missing=1
if [ "$missing" = 0 ]; then echo "$bin"; exit 0; fi

# Go's own tarball installs to /usr/local/go, which a non-login shell's PATH may lack.
command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "build.sh: go is not installed (Go 1.24 or newer builds Kubernetes $K8S_VERSION)" >&2; exit 1; }
mkdir -p "$bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

# Kubernetes: a wrapper module requiring k8s.io/kubernetes, with each staging module k8s.io/* (replaced by a
# relative path in kubernetes' own go.mod, which a dependency's replaces cannot use) at the matching v0 version.
build_kubernetes() {
  echo "build.sh: Kubernetes $K8S_VERSION (cold: about 6 minutes)" >&2
  mkdir -p "$work/k8s"
  gomod="$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  staging_version="v0.${K8S_VERSION#v1.}"
  {
    echo "module gpumon.test/k8s-build"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    grep -E '=> \./staging/src/' "$gomod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } >"$work/k8s/go.mod"
  echo "package main" >"$work/k8s/main.go"
  echo "func main() {}" >>"$work/k8s/main.go"
  (
    cd "$work/k8s"
    for c in "${k8s_cmds[@]}"; do
      [ -x "$bin/$c" ] && continue
      echo "build.sh:   $c" >&2
      go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#v1.}" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c"
      mv "$bin/$c.tmp" "$bin/$c"
    done
  )
}
for c in "${k8s_cmds[@]}"; do
  if [ ! -x "$bin/$c" ]; then
    build_kubernetes
    break
  fi
done

# etcd: a tiny main calling etcdmain.Main, as etcd's own binary does.
if [ ! -x "$bin/etcd" ]; then
  echo "build.sh: etcd $ETCD_VERSION" >&2
  mkdir -p "$work/etcd"
  cat >"$work/etcd/go.mod" <<GOMOD
module gpumon.test/etcd-build

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$work/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work/etcd" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" . && mv "$bin/etcd.tmp" "$bin/etcd")
fi

# CoreDNS: its own main module.
if [ ! -x "$bin/coredns" ]; then
  echo "build.sh: CoreDNS $COREDNS_VERSION" >&2
  GOBIN="$work/gobin" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  mv "$work/gobin/coredns" "$bin/coredns"
fi

# crictl (cluster.sh stop removes the pods through the CRI, so that CNI tears their network down) and the
# local-path provisioner (the default StorageClass): main modules without replace directives, so go install works.
install_extra() {
  local name="$1" version="$2" pkg="$3"
  extra_ok "$name" "$version" && return 0
  echo "build.sh: $name $version" >&2
  GOBIN="$work/gobin" go install -trimpath -ldflags "-s -w" "$pkg@$version"
  mv "$work/gobin/$name" "$bin/$name"
  echo "$version" >"$bin/$name.version"
}
install_extra crictl "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
install_extra local-path-provisioner "$LPP_VERSION" github.com/rancher/local-path-provisioner

# The pods' pause binary, static (the sandbox image is made from it by cluster.sh).
if ! extra_ok gpumon-pause "$pause_stamp"; then
  echo "build.sh: gpumon-pause" >&2
  (cd "$work" && GOFLAGS='' go build -trimpath -ldflags "-s -w" -o "$bin/gpumon-pause" "$here/pause/main.go")
  echo "$pause_stamp" >"$bin/gpumon-pause.version"
fi
echo "$bin"
