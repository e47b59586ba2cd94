#!/usr/bin/env bash
# Tags gpumon's image (build-images.sh) for your registry and pushes it; deploy.sh then deploys that image
# (the registry is recorded in .cache/deploy/registry; REGISTRY=... on deploy.sh overrides it).
# --mirror also pulls the stack's official images (Kafka, Hadoop, Spark, InfluxDB, Grafana) and pushes them
# to the same registry, for clusters that cannot reach Docker Hub; deploy.sh then takes them from there too.
#
# Usage: REGISTRY=registry.example.com/team deploy/kubernetes/push-images.sh [--mirror] [--help]
# Environment: REGISTRY (required), GPUMON_BUILDER=docker|podman, GPUMON_DEPLOY_STATE (as deploy.sh).
# Log in first (docker login / podman login).
set -euo pipefail
# shellcheck source=deploy/kubernetes/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mirror=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --mirror) mirror=1; shift ;;
    *) echo "$me: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
registry="${REGISTRY:-}"
[ -n "$registry" ] || die "set REGISTRY, e.g. REGISTRY=registry.example.com/team $0"
registry="${registry%/}"

step "find docker or podman"
builder="$(find_builder)"
version="$(pkg_version)"

step "push gpumon:$version to $registry"
"$builder" tag "gpumon:$version" "$registry/gpumon:$version"
"$builder" push "$registry/gpumon:$version"

if [ "$mirror" = 1 ]; then
  step "mirror the official images to $registry"
  for image in "${upstream_images[@]}"; do
    "$builder" pull "docker.io/$image"
    "$builder" tag "docker.io/$image" "$registry/$image"
    "$builder" push "$registry/$image"
  done
fi

step "record $registry for deploy.sh"
mkdir -p "$state_root"
echo "$registry" >"$state_root/registry"
if [ "$mirror" = 1 ]; then echo "$registry" >"$state_root/mirrored"; else rm -f "$state_root/mirrored"; fi
say "deploy.sh now deploys $registry/gpumon:$version"
