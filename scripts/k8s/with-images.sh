#!/usr/bin/env bash
# The Kubernetes part of the test set-up: starts the test cluster (scripts/k8s/cluster.sh start), builds the
# stack's test images (test/cluster-images/build.sh, cached: seconds when nothing changed) and imports them
# into the cluster's containerd. Prints the cluster's KEY=value lines and GPUMON_TEST_CLUSTER_IMAGES=<the
# images, space-separated> on stdout, for scripts/test to export; progress on stderr.
# Usage: scripts/k8s/with-images.sh [--help]
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "with-images.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
images_dir="${GPUMON_CLUSTER_IMAGES_DIR:-$repo/.tmp/cluster-images}"

cluster_env="$("$here/cluster.sh" start)"
"$repo/test/cluster-images/build.sh" save "$images_dir" >&2
for archive in "$images_dir"/*.tar; do
  [ -e "$archive" ] || { echo "with-images.sh: no image archive in $images_dir" >&2; exit 1; }
  "$here/cluster.sh" load-image "$archive" >&2
done
echo "$cluster_env"
echo "GPUMON_TEST_CLUSTER_IMAGES=$("$repo/test/cluster-images/build.sh" list | tr '\n' ' ' | sed 's/ $//')"
