#!/usr/bin/env bash
# Builds the container images of the Kubernetes tests with podman, from a Debian bookworm base made with
# debootstrap and the artifacts the test services already use (docs/services.md), nothing outside the
# package registries: gpumon's own image from the root Dockerfile, and stand-ins of the official images the
# manifests pin, with their layout, users and commands (test/cluster-images/README.md).
#
# Usage: test/cluster-images/build.sh [--help] [build [NAME...] | save DIR [NAME...] | list | podman-args global|run]
#   build [NAME...]     builds the images (default: all); an image whose inputs (a hash of its Dockerfile,
#                       context files, artifact versions and base, kept in the image label dev.gpumon.inputs)
#                       are unchanged is kept as it is, so a warm run takes seconds
#   save DIR [NAME...]  builds, then writes DIR/<name>-<tag>.tar per image: `podman save` docker-archives,
#                       for `ctr -n k8s.io images import` (kept when the image did not change)
#   list                prints the image names (localhost/<name>:<tag>), one a line
#   podman-args global|run  the arguments podman needs on this machine, one a line: `global` before the
#                       subcommand, `run` after `podman run`
# NAME: gpumon, kafka, hadoop, spark, influxdb. Installs podman, runc, debootstrap, maven and pip (Debian's)
# when missing (as root). Progress goes to stderr. Environment: GPUMON_CACHE (default ~/.cache/gpumon; this
# script keeps debootstrap's packages, root file systems, jars and pyspark under images/ there),
# GPUMON_DEBIAN_MIRROR (http://deb.debian.org/debian), PYSPARK_VERSION (as scripts/setup/spark.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${GPUMON_CACHE:-$HOME/.cache/gpumon}/images"
mirror="${GPUMON_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm
names=(gpumon kafka hadoop spark influxdb)
label=dev.gpumon.inputs

say() { echo "cluster-images: $*" >&2; }
die() {
  say "$*"
  exit 1
}
# A wrong command line: exit 2.
usage_error() {
  say "$*"
  exit 2
}
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# --- versions: each read from where the test services pin it ------------------------------------------------
pkg_version() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json" | head -n 1; }
pom_version() { sed -n "s:.*<$2>\(.*\)</$2>.*:\1:p" "$repo/scripts/services/$1/pom.xml"; }
spark_version() {
  [ -n "${PYSPARK_VERSION:-}" ] && { echo "$PYSPARK_VERSION"; return; }
  # shellcheck disable=SC2016 # a literal ${...} to match
  sed -n 's/^PYSPARK_VERSION="\${PYSPARK_VERSION:-\(.*\)}"$/\1/p' "$repo/scripts/setup/spark.sh"
}
# The official influxdb image the manifests pin; the image holds Debian's influxdb (its real version is in
# the label dev.gpumon.influxdb-version).
influxdb_tag=1.11.8

tag_of() {
  case "$1" in
    gpumon) pkg_version ;;
    kafka) pom_version kafka kafka.version ;;
    hadoop) pom_version hdfs hadoop.version ;;
    spark) spark_version ;;
    influxdb) echo "$influxdb_tag" ;;
    *) usage_error "unknown image '$1' (one of: ${names[*]})" ;;
  esac
}
ref_of() {
  local tag
  tag="$(tag_of "$1")"
  [ -n "$tag" ] || die "no version found for $1"
  echo "localhost/$1:$tag"
}

# --- podman on this machine --------------------------------------------------------------------------------
# runc: crun fails on a cgroup v1 (hybrid) host. Limits: podman's default (nofile 1048576) is above what an
# unprivileged host allows; anything within the host's hard limits works.
podman_global() { printf '%s\n' --runtime runc; }
podman_limits() {
  local nofile nproc
  nofile="$(ulimit -Hn)"
  nproc="$(ulimit -Hu)"
  [[ "$nofile" =~ ^[0-9]+$ ]] && ((nofile < 16384)) || nofile=16384
  [[ "$nproc" =~ ^[0-9]+$ ]] && ((nproc < 16384)) || nproc=16384
  printf '%s\n' --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
}
pm() {
  local g
  mapfile -t g < <(podman_global)
  podman "${g[@]}" "$@"
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "missing: $* (apt-get install $*, as root)"
  say "installing Debian's $* (apt-get)"
  local opts=(-y -q -o DPkg::Lock::Timeout=600)
  DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >&2; } ||
    die "apt-get install $* failed"
}

need_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ "${#missing[@]}" = 0 ] || apt_install "${missing[@]}"
  [ "$(id -u)" = 0 ] || die "debootstrap and rootful podman need root"
}
need_maven() { command -v mvn >/dev/null || apt_install maven; }
need_pip() { python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip; }

# --- hashing -----------------------------------------------------------------------------------------------
sha() { sha256sum | cut -c1-64; }
# A digest of the files under the paths given (relative to the current directory): names and contents.
tree_digest() { find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha; }
image_id() { pm image inspect --format '{{.Id}}' "$1" 2>/dev/null; }
image_inputs() { pm image inspect --format "{{index .Labels \"$label\"}}" "$1" 2>/dev/null || true; }
# True when image $1 exists with the inputs $2.
up_to_date() { [ "$(image_inputs "$1")" = "$2" ]; }

# --- base root file systems (debootstrap) -------------------------------------------------------------------
# Packages of each base beyond --variant=minbase: installed by debootstrap on this side, so no build needs
# container networking for them.
rootfs_packages() {
  case "$1" in
    debian) echo "" ;;
    jre) echo "openjdk-17-jre-headless,procps,tini,libnss-wrapper,netbase" ;;
    influxdb) echo "influxdb,influxdb-client,netbase" ;;
  esac
}

# Makes the root file system $1 into the tar $2: debootstrap, then what an image does not need removed
# (package lists, caches, documentation but the copyright files, the host's hostname and resolv.conf).
make_rootfs() {
  local name="$1" tar="$2" dir pkgs started=$SECONDS
  pkgs="$(rootfs_packages "$name")"
  dir="$cache/rootfs/$name.tmp"
  rm -rf "$dir"
  mkdir -p "$cache/debs" "$dir"
  say "debootstrap --variant=minbase $suite${pkgs:+ --include=$pkgs} (base '$name'; about 30 s)"
  if ! debootstrap --variant=minbase --cache-dir="$cache/debs" ${pkgs:+"--include=$pkgs"} \
    "$suite" "$dir" "$mirror" >"$cache/rootfs/$name.log" 2>&1; then
    tail -n 30 "$cache/rootfs/$name.log" >&2
    die "debootstrap failed (log: $cache/rootfs/$name.log)"
  fi
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
    "$dir"/var/log/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
    "$dir"/etc/hostname "$dir"/etc/resolv.conf "$dir"/tmp/* "$dir"/var/tmp/*
  find "$dir/usr/share/doc" -type f ! -name copyright -delete
  find "$dir/usr/share/doc" -type d -empty -delete
  tar --numeric-owner --xattrs -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  say "base '$name': $(du -h "$tar" | cut -f1) in $((SECONDS - started)) s"
}

# The podman image of the base root file system $1 (localhost/gpumon-base/$1:bookworm), made or kept.
base_image() {
  local name="$1" ref="localhost/gpumon-base/$1:$suite" inputs tar
  inputs="$(printf '%s\n' "$suite" "$(rootfs_packages "$name")" "$(declare -f make_rootfs)" | sha)"
  if up_to_date "$ref" "$inputs"; then return 0; fi
  tar="$cache/rootfs/$name-${inputs:0:12}.tar"
  [ -f "$tar" ] || make_rootfs "$name" "$tar"
  find "$cache/rootfs" -maxdepth 1 -name "$name-*.tar" ! -name "$(basename "$tar")" -delete
  say "importing $ref"
  pm import -q --change "LABEL $label=$inputs" --change 'CMD ["bash"]' "$tar" "$ref" >/dev/null
}

# --- artifacts ---------------------------------------------------------------------------------------------
# The runtime jars of scripts/services/$1/pom.xml (as the services fetch them) in $cache/artifacts; prints
# the directory.
maven_libs() {
  local pom="$repo/scripts/services/$1/pom.xml" want dir log
  want="$(sha <"$pom")"
  dir="$cache/artifacts/$1-${want:0:12}/libs"
  if [ ! -f "$dir/.complete" ]; then
    need_maven
    say "fetching the jars of $pom (mvn dependency:copy-dependencies)"
    rm -rf "$dir.tmp"
    mkdir -p "$(dirname "$dir")"
    log="$(dirname "$dir")/mvn.log"
    mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$dir.tmp" >"$log" 2>&1 || { cat "$log" >&2; die "mvn failed for $pom"; }
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    echo "$want" >"$dir/.complete"
  fi
  echo "$dir"
}

# Spark's distribution as PyPI's pyspark sdist carries it (deps/: bin, sbin, jars, data, examples), unpacked
# once into $cache/artifacts; prints the directory of deps/.
pyspark_deps() {
  local version="$1" dir="$cache/artifacts/pyspark-$1" sdist
  if [ ! -f "$dir/.complete" ]; then
    need_pip
    rm -rf "$dir"
    mkdir -p "$dir/download"
    say "downloading pyspark $version from PyPI (about 430 MiB)"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps "pyspark==$version" \
      -d "$dir/download" >&2 || die "pip download pyspark==$version failed"
    sdist="$(find "$dir/download" -maxdepth 1 -name "pyspark-$version.tar.gz" | head -n 1)"
    [ -n "$sdist" ] || die "pip download gave no pyspark-$version.tar.gz (a wheel has no deps/)"
    tar -xzf "$sdist" -C "$dir" "pyspark-$version/deps"
    ls "$dir/pyspark-$version/deps/jars"/spark-connect_*.jar >/dev/null 2>&1 ||
      die "no jars/spark-connect_*.jar in pyspark $version"
    sha256sum <"$sdist" | cut -c1-64 >"$dir/sdist.sha256"
    rm -rf "$dir/download"
    echo "$version" >"$dir/.complete"
  fi
  echo "$dir/pyspark-$version/deps"
}

# --- build contexts ----------------------------------------------------------------------------------------
# A fresh build context for image $1 in $cache/context/$1, starting with test/cluster-images/$1/; prints it.
new_context() {
  local ctx="$cache/context/$1"
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp -a "$here/$1/." "$ctx/"
  echo "$ctx"
}
# Hard links the tree $1 into $2 (a copy across file systems).
link_tree() {
  mkdir -p "$2"
  cp -al "$1/." "$2/" 2>/dev/null || cp -a "$1/." "$2/"
}

# Builds $ref from the context $ctx with build arguments "$@", labelled with $inputs.
podman_build() {
  local ref="$1" ctx="$2" inputs="$3" started=$SECONDS
  shift 3
  local lim log
  mapfile -t lim < <(podman_limits)
  mkdir -p "$cache/logs"
  log="$cache/logs/$(echo "${ref#localhost/}" | tr '/:' '__').log"
  say "building $ref (log: $log)"
  if ! pm build --pull=never --network host "${lim[@]}" --label "$label=$inputs" -t "$ref" "$@" "$ctx" \
    >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "podman build of $ref failed (log: $log)"
  fi
  say "$ref built in $((SECONDS - started)) s, $(pm image inspect --format '{{.Size}}' "$ref" | numfmt --to=iec)B"
  # the context (hard links) is not needed any more, nor the image this one replaced
  [ "$ctx" = "$repo" ] || rm -rf "$ctx"
  pm image prune -f --filter "label=$label" >/dev/null 2>&1 || true
}

# --- the images --------------------------------------------------------------------------------------------
# Node.js base: this machine's node (>= 20) and npm on the debootstrap base (node/Dockerfile).
node_image() {
  local node npm_dir version inputs ref
  node="$(command -v node)" || die "node (>= 20) is needed: gpumon's image runs this machine's Node.js"
  node="$(readlink -f "$node")"
  version="$("$node" --version)"
  [ "$(echo "${version#v}" | cut -d. -f1)" -ge 20 ] || die "node $version is too old (gpumon needs >= 20)"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [ -f "$npm_dir/package.json" ] || die "npm's package not found (from $(command -v npm))"
  base_image debian
  ref="localhost/gpumon-base/node:${version#v}-$suite"
  inputs="$(printf '%s\n' "$(declare -f node_image)" "$(image_id "localhost/gpumon-base/debian:$suite")" "$(sha <"$node")" \
    "$(cd "$npm_dir" && tree_digest .)" "$(cd "$here/node" && tree_digest .)" | sha)"
  if ! up_to_date "$ref" "$inputs"; then
    local ctx
    ctx="$(new_context node)"
    cp "$node" "$ctx/node"
    link_tree "$npm_dir" "$ctx/npm"
    podman_build "$ref" "$ctx" "$inputs" --build-arg "BASE=localhost/gpumon-base/debian:$suite" \
      --build-arg "NODE_VERSION=${version#v}"
  fi
  node_ref="$ref"
}

# gpumon's own image, from the root Dockerfile, on that Node.js base. npm ci inside the build reaches the
# registry through the host's network, with the host's registry and CA settings (npm config) when it has any.
build_gpumon() {
  local ref inputs node_ref=""
  ref="$(ref_of gpumon)"
  node_image
  inputs="$(
    cd "$repo"
    printf '%s\n' "$(declare -f build_gpumon)" "$(image_id "$node_ref")" \
      "$(tree_digest Dockerfile .dockerignore package.json package-lock.json bin web src scripts/build.mjs \
        scripts/bundle-options.mjs)" | sha
  )"
  up_to_date "$ref" "$inputs" && { say "$ref is up to date"; return 0; }
  local work="$cache/context/gpumon-build" mounts=() registry cafile
  rm -rf "$work"
  mkdir -p "$work/npm-cache"
  registry="$(npm config get registry 2>/dev/null || true)"
  cafile="$(npm config get cafile 2>/dev/null || true)"
  [ -n "$cafile" ] && [ "$cafile" != null ] && [ -f "$cafile" ] || cafile="${NODE_EXTRA_CA_CERTS:-}"
  {
    [ -n "$registry" ] && echo "registry=$registry"
    [ -n "$cafile" ] && [ -f "$cafile" ] && echo "cafile=/run/gpumon-build/ca.crt"
  } >"$work/npmrc"
  [ -n "$cafile" ] && [ -f "$cafile" ] && mounts+=(-v "$cafile:/run/gpumon-build/ca.crt:ro")
  # the build stages run as root: /root/.npmrc and /root/.npm (npm's cache, shared by the build and deps stages)
  mounts+=(-v "$work/npmrc:/root/.npmrc:ro" -v "$work/npm-cache:/root/.npm")
  podman_build "$ref" "$repo" "$inputs" -f "$repo/Dockerfile" --build-arg "NODE_IMAGE=$node_ref" "${mounts[@]}"
  rm -rf "$work"
}

build_kafka() {
  local ref version libs inputs ctx
  ref="$(ref_of kafka)"
  version="$(tag_of kafka)"
  base_image jre
  libs="$(maven_libs kafka)"
  inputs="$(printf '%s\n' "$(declare -f build_kafka)" "$(image_id "localhost/gpumon-base/jre:$suite")" "$(cat "$libs/.complete")" \
    "$(cd "$here/kafka" && tree_digest .)" "$version" | sha)"
  up_to_date "$ref" "$inputs" && { say "$ref is up to date"; return 0; }
  [ -f "$libs/kafka_2.13-$version.jar" ] || die "kafka_2.13-$version.jar missing from $libs"
  ctx="$(new_context kafka)"
  link_tree "$libs" "$ctx/libs"
  rm -f "$ctx/libs/.complete"
  podman_build "$ref" "$ctx" "$inputs" --build-arg "BASE=localhost/gpumon-base/jre:$suite" \
    --build-arg "KAFKA_VERSION=$version"
}

build_hadoop() {
  local ref version libs inputs ctx jar
  ref="$(ref_of hadoop)"
  version="$(tag_of hadoop)"
  base_image jre
  libs="$(maven_libs hdfs)"
  inputs="$(printf '%s\n' "$(declare -f build_hadoop)" "$(image_id "localhost/gpumon-base/jre:$suite")" "$(cat "$libs/.complete")" \
    "$(cd "$here/hadoop" && tree_digest .)" "$version" | sha)"
  up_to_date "$ref" "$inputs" && { say "$ref is up to date"; return 0; }
  [ -f "$libs/hadoop-hdfs-$version.jar" ] || die "hadoop-hdfs-$version.jar missing from $libs"
  ctx="$(new_context hadoop)"
  # the distribution's layout: share/hadoop/common (hadoop-common), common/lib (dependencies), hdfs
  mkdir -p "$ctx/share/hadoop/common/lib" "$ctx/share/hadoop/hdfs"
  for jar in "$libs"/*.jar; do
    case "$(basename "$jar")" in
      hadoop-common-* | hadoop-auth-* | hadoop-annotations-*) ln "$jar" "$ctx/share/hadoop/common/" 2>/dev/null ||
        cp "$jar" "$ctx/share/hadoop/common/" ;;
      hadoop-hdfs-*) ln "$jar" "$ctx/share/hadoop/hdfs/" 2>/dev/null || cp "$jar" "$ctx/share/hadoop/hdfs/" ;;
      *) ln "$jar" "$ctx/share/hadoop/common/lib/" 2>/dev/null || cp "$jar" "$ctx/share/hadoop/common/lib/" ;;
    esac
  done
  podman_build "$ref" "$ctx" "$inputs" --build-arg "BASE=localhost/gpumon-base/jre:$suite" \
    --build-arg "HADOOP_VERSION=$version"
}

build_spark() {
  local ref version deps inputs ctx
  ref="$(ref_of spark)"
  version="$(tag_of spark)"
  base_image jre
  deps="$(pyspark_deps "$version")"
  inputs="$(printf '%s\n' "$(declare -f build_spark)" "$(image_id "localhost/gpumon-base/jre:$suite")" \
    "$(cat "$cache/artifacts/pyspark-$version/sdist.sha256")" "$(cd "$here/spark" && tree_digest .)" \
    "$version" | sha)"
  up_to_date "$ref" "$inputs" && { say "$ref is up to date"; return 0; }
  ctx="$(new_context spark)"
  mkdir -p "$ctx/dist"
  local d
  for d in bin sbin jars data examples licenses; do link_tree "$deps/$d" "$ctx/dist/$d"; done
  rm -f "$ctx"/dist/bin/*.cmd
  # the sdist's sbin has only spark-config.sh, spark-daemon.sh and the history server's scripts: the
  # distribution's start/stop scripts of the master, the workers and the Connect server are ours (spark/sbin)
  podman_build "$ref" "$ctx" "$inputs" --build-arg "BASE=localhost/gpumon-base/jre:$suite" \
    --build-arg "SPARK_VERSION=$version"
}

build_influxdb() {
  local ref inputs ctx real lim
  ref="$(ref_of influxdb)"
  base_image influxdb
  inputs="$(printf '%s\n' "$(declare -f build_influxdb)" "$(image_id "localhost/gpumon-base/influxdb:$suite")" \
    "$(cd "$here/influxdb" && tree_digest .)" "$influxdb_tag" | sha)"
  up_to_date "$ref" "$inputs" && { say "$ref is up to date"; return 0; }
  mapfile -t lim < <(podman_limits)
  # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
  real="$(pm run --rm --network none "${lim[@]}" "localhost/gpumon-base/influxdb:$suite" \
    dpkg-query -W -f '${Version}' influxdb)" || die "no influxdb package in the base"
  ctx="$(new_context influxdb)"
  podman_build "$ref" "$ctx" "$inputs" --build-arg "BASE=localhost/gpumon-base/influxdb:$suite" \
    --build-arg "INFLUXDB_VERSION=$real" --build-arg "INFLUXDB_TAG=$influxdb_tag"
}

# --- commands ----------------------------------------------------------------------------------------------
selected=()
select_names() {
  selected=("$@")
  [ "${#selected[@]}" -gt 0 ] || selected=("${names[@]}")
  local n
  for n in "${selected[@]}"; do tag_of "$n" >/dev/null; done
}

lock() {
  mkdir -p "$cache"
  exec 8>"$cache/build.lock"
  flock -w 1800 8 || die "another build holds $cache/build.lock"
}

build() {
  select_names "$@"
  need_tools
  lock
  local n started=$SECONDS
  for n in "${selected[@]}"; do "build_$n"; done
  say "done in $((SECONDS - started)) s: $(for n in "${selected[@]}"; do printf '%s ' "$(ref_of "$n")"; done)"
}

save() {
  local dir="${1:-}"
  [ -n "$dir" ] || usage_error "save needs a directory (see --help)"
  shift
  build "$@"
  mkdir -p "$dir"
  local n ref file inputs
  for n in "${selected[@]}"; do
    ref="$(ref_of "$n")"
    file="$dir/$n-$(tag_of "$n").tar"
    inputs="$(image_inputs "$ref")"
    # an archive of this image at another version would be imported too: remove it
    find "$dir" -maxdepth 1 \( -name "$n-*.tar" -o -name "$n-*.tar.inputs" \) ! -name "$(basename "$file")" \
      ! -name "$(basename "$file").inputs" -delete
    if [ -f "$file" ] && [ "$(cat "$file.inputs" 2>/dev/null)" = "$inputs" ]; then
      say "$file is up to date"
      continue
    fi
    say "saving $ref to $file"
    rm -f "$file" "$file.inputs"
    pm save -q --format docker-archive -o "$file.tmp" "$ref" >&2
    mv "$file.tmp" "$file"
    echo "$inputs" >"$file.inputs"
  done
}

case "${1:-build}" in
  -h | --help) usage ;;
  build)
    shift || true
    build "$@"
    ;;
  save)
    shift
    save "$@"
    ;;
  list) for n in "${names[@]}"; do ref_of "$n"; done ;;
  podman-args)
    case "${2:-}" in
      global) podman_global ;;
      run) podman_limits ;;
      *) usage_error "podman-args global|run" ;;
    esac
    ;;
  *) usage_error "unknown command '$1' (see --help)" ;;
esac
