#!/usr/bin/env bash
# Makes a one-layer OCI image archive (an OCI image layout in a tar, as `podman save --format oci-archive`
# writes) from a directory, with no registry, no daemon and no base image: how the test cluster gets its
# pause, CoreDNS, busybox and local-path-provisioner images (registries of images cannot be reached here).
#
#   scripts/k8s/oci.sh ROOTFS_DIR IMAGE_NAME OUT.tar [ENTRYPOINT ARG...]
#
# IMAGE_NAME is the full name containerd gets (e.g. gpumon.local/busybox:1.35.0; annotation
# io.containerd.image.name, which `ctr images import` uses as is). Files are owned by root, timestamps 0: the
# same inputs make the same digest. Load it with `scripts/k8s/cluster.sh load-image OUT.tar`.
set -euo pipefail
case "${1:-}" in
  -h | --help | "") sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
[ $# -ge 3 ] || { echo "oci.sh: usage: oci.sh ROOTFS_DIR IMAGE_NAME OUT.tar [ENTRYPOINT ARG...]" >&2; exit 2; }
rootfs="$1" name="$2" out="$3"
shift 3
[ -d "$rootfs" ] || { echo "oci.sh: $rootfs is not a directory" >&2; exit 2; }
case "$name" in
  */*:*) ;;
  *) echo "oci.sh: IMAGE_NAME must be a full name with a registry part and a tag (REGISTRY/NAME:TAG), not '$name'" >&2; exit 2 ;;
esac
arch="$(dpkg --print-architecture 2>/dev/null || go env GOARCH)"

# A JSON string (names and arguments here are plain: quotes and backslashes escaped, no control characters).
json_str() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}
json_array() {
  local first=1 a
  printf '['
  for a in "$@"; do
    [ "$first" = 1 ] || printf ','
    first=0
    json_str "$a"
  done
  printf ']'
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"
# the layer: uncompressed (containerd and podman take it; nothing to gain from gzip on the same disk)
(cd "$rootfs" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$work/files"
tar -C "$rootfs" --no-recursion --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$work/layer.tar" -T "$work/files"
layer_digest="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
layer_size="$(stat -c %s "$work/layer.tar")"
mv "$work/layer.tar" "$work/blobs/sha256/$layer_digest"

entrypoint=null
[ $# -eq 0 ] || entrypoint="$(json_array "$@")"
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"Entrypoint":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"scripts/k8s/oci.sh"}]}' \
  "$arch" "$entrypoint" "$layer_digest" >"$work/config.json"
config_digest="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
config_size="$(stat -c %s "$work/config.json")"
mv "$work/config.json" "$work/blobs/sha256/$config_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
manifest_digest="$(sha256sum "$work/manifest.json" | cut -d' ' -f1)"
manifest_size="$(stat -c %s "$work/manifest.json")"
mv "$work/manifest.json" "$work/blobs/sha256/$manifest_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":%s,"org.opencontainers.image.ref.name":%s}}]}' \
  "$manifest_digest" "$manifest_size" "$arch" "$(json_str "$name")" "$(json_str "${name##*:}")" >"$work/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"

mkdir -p "$(dirname "$out")"
tar -C "$work" --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "oci.sh: $name -> $out (manifest sha256:$manifest_digest)" >&2
