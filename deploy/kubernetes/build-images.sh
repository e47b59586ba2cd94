#!/usr/bin/env bash
# Builds gpumon's container image from the root Dockerfile with docker or podman, whichever is installed,
# tagged with package.json's version: gpumon:<version> (podman names it localhost/gpumon:<version>).
#
# Usage: deploy/kubernetes/build-images.sh [--base IMAGE] [--help]
#   --base IMAGE   the Node.js base image (the Dockerfile's NODE_IMAGE, default node:24-bookworm-slim)
# Environment: GPUMON_BUILDER=docker|podman to choose when both are installed.
# Then: REGISTRY=registry.example.com/team deploy/kubernetes/push-images.sh
set -euo pipefail
# shellcheck source=deploy/kubernetes/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

base=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --base) base="${2:?--base needs an image}"; shift 2 ;;
    *) echo "$me: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

step "find docker or podman"
builder="$(find_builder)"
version="$(pkg_version)"
[ -n "$version" ] || die "no version in $repo/package.json"

step "build gpumon:$version with $builder"
args=(-t "gpumon:$version" -f "$repo/Dockerfile")
[ -z "$base" ] || args+=(--build-arg "NODE_IMAGE=$base")
"$builder" build "${args[@]}" "$repo"
say "built gpumon:$version"
