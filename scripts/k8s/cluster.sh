#!/usr/bin/env bash
# A single-node Kubernetes cluster for the tests, on this machine, with real pods: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd (runc, CNI bridge), kubelet, kube-proxy (iptables), CoreDNS
# and a default StorageClass (`local-path`). Binaries from scripts/k8s/build.sh (the Go module proxy), everything
# else from Debian's packages; nothing listens on 0.0.0.0 or the machine's own address (docs/services.md).
#
#   scripts/k8s/cluster.sh start        installs what is missing (apt-get), builds the binaries (first run), makes
#                                       the PKI, starts everything, waits until the node is Ready and CoreDNS
#                                       answers, prints KUBECONFIG=..., GPUMON_TEST_KUBECONFIG=... and the other
#                                       GPUMON_TEST_* lines. Does nothing but print them when running.
#   scripts/k8s/cluster.sh stop [--purge]   stops kubelet, the pods (through the CRI, so CNI tears their network
#                                       down), containerd, kube-proxy and the control plane; removes the cluster's
#                                       interfaces, iptables chains, mounts and network namespaces. Keeps the
#                                       state (PKI, etcd, images, volumes) for the next start; --purge removes it.
#   scripts/k8s/cluster.sh status       prints the GPUMON_TEST_* lines and exits 0 when running, else exits 3.
#   scripts/k8s/cluster.sh env          `export KEY=value` lines for eval "$(scripts/k8s/cluster.sh env)"; exit 3
#                                       when not running.
#   scripts/k8s/cluster.sh logs [COMPONENT] [N]   the last N (200) lines of one component's log, or of all.
#   scripts/k8s/cluster.sh load-image FILE.tar [BASE_NAME]   imports an OCI archive (`podman save --format
#                                       oci-archive`) or a docker archive into the cluster's containerd
#                                       (namespace k8s.io), prints the image names; BASE_NAME (e.g.
#                                       localhost/gpumon) names an OCI archive whose index names only a tag.
#   scripts/k8s/cluster.sh kubectl ARGS...   the built kubectl with the cluster's admin kubeconfig.
#   scripts/k8s/cluster.sh crictl ARGS...    the built crictl against the cluster's containerd.
#
# Settings (environment): GPUMON_K8S_DIR (state, default .tmp/k8s in the repository), GPUMON_K8S_NET (the
# 10.X.0.0/16 the cluster uses, as `10.X`; default: the first of 10.213 ... 10.250 with no address or route on
# this machine, kept in GPUMON_K8S_DIR/net), GPUMON_K8S_START_TIMEOUT (300 s), GPUMON_CACHE (build cache).
set -euo pipefail
svc=k8s
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/services/lib.sh
source "$here/../services/lib.sh"

case "${1:-}" in
  -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

k8s_dir="${GPUMON_K8S_DIR:-$repo_root/.tmp/k8s}"
mkdir -p "$k8s_dir"
k8s_dir="$(cd "$k8s_dir" && pwd)"
# lib.sh's names, pointed at the cluster's state directory (one run: the state survives stop/start)
state_dir="$k8s_dir"
env_file="$k8s_dir/env"
run_link="$k8s_dir"
pid_file="$k8s_dir/pids/none"
logs="$k8s_dir/logs"
pids="$k8s_dir/pids"
pki="$k8s_dir/pki"
etc="$k8s_dir/etc"
sock="$k8s_dir/run/containerd.sock"
admin_kubeconfig="$k8s_dir/admin.kubeconfig"
node_name=gpumon-node
node_if=gpumon-k8s0
cni_if=gpumon-cni0
cni_net=gpumon-k8s
guard=GPUMON-K8S
etcd_port=12379
etcd_peer_port=12380
# Images the cluster makes for itself (scripts/k8s/oci.sh) and imports into containerd.
k8s_version=v1.34.4
coredns_version=v1.12.4
lpp_version=v0.0.30
pause_image=gpumon.local/pause:3.10
coredns_image="gpumon.local/coredns:$coredns_version"
lpp_image="gpumon.local/local-path-provisioner:$lpp_version"
busybox_image="" # gpumon.local/busybox:<Debian's busybox-static version>, set by busybox_version
start_timeout="${GPUMON_K8S_START_TIMEOUT:-300}"
# start order; stop goes the other way round (kubelet and the pods first)
components=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

# Debian's packages the cluster runs on.
packages=(containerd runc containernetworking-plugins iptables nftables conntrack socat openssl busybox-static curl)

bin="" # the build's bin directory, set by need_bin

# ---------------------------------------------------------------------------------------------------- helpers

# Pid of component $1 when it runs (its pid file names a live process whose command line names our state dir).
comp_pid() {
  local f="$pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$k8s_dir/" || return 1
  echo "$pid"
}

# Starts component $1 as `$2...` in a session of its own, logging to logs/$1.log; writes its pid file.
launch() {
  local name="$1"
  shift
  mkdir -p "$logs" "$pids"
  echo "===== $(date -u +%FT%TZ) start" >>"$logs/$name.log"
  setsid "$@" </dev/null >>"$logs/$name.log" 2>&1 9>&- &
  echo "$!" >"$pids/$name.pid"
}

# Waits until `CHECK...` succeeds for component $1 (just launched), within what is left of the start's timeout.
await() {
  local name="$1" what="$2" pid
  shift 2
  pid="$(cat "$pids/$name.pid")"
  pid_file="$pids/$name.pid" await_ready "$name" "$pid" "$start_began" "$start_timeout" 0.3 "$what" "$@"
}

# stop_comps WAIT NAME...: SIGTERM to each of the components at once, then waits for each (stop_pid).
stop_comps() {
  local wait_s="$1" name pid stopped=() found=()
  shift
  for name in "$@"; do
    if pid="$(comp_pid "$name")"; then
      kill -TERM "$pid" 2>/dev/null || true
      found+=("$name:$pid")
    fi
    rm -f "$pids/$name.pid"
  done
  for name in "${found[@]}"; do
    stop_pid "${name#*:}" "$wait_s"
    stopped+=("${name%%:*} (pid ${name#*:})")
  done
  if [ ${#stopped[@]} -gt 0 ]; then say "stopped ${stopped[*]}"; fi
}

kubectl_() { "$bin/kubectl" --kubeconfig "$admin_kubeconfig" "$@"; }
crictl_() {
  [ -f "$etc/crictl.yaml" ] || write_crictl_config
  "$bin/crictl" --config "$etc/crictl.yaml" --timeout 30s "$@"
}
write_crictl_config() {
  mkdir -p "$etc"
  printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' "$sock" "$sock" >"$etc/crictl.yaml"
}
ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }

need_bin() {
  [ -n "$bin" ] && return 0
  bin="$("$here/build.sh")" || die "scripts/k8s/build.sh failed"
  [ -x "$bin/kubectl" ] || die "scripts/k8s/build.sh printed '$bin', which has no kubectl"
}

busybox_version() {
  local v
  v="$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null)" || die "busybox-static is not installed"
  v="${v#*:}"
  busybox_image="gpumon.local/busybox:${v%%-*}"
}

# ------------------------------------------------------------------------------------------------ install

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (apt-get install them as root)"
  say "installing Debian's ${missing[*]} (apt-get; first run)"
  # no maintainer script may start a system containerd (nothing here uses one)
  local policy=/usr/sbin/policy-rc.d made_policy="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >&2 ||
    { apt-get -o DPkg::Lock::Timeout=300 update -q >&2 && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${missing[@]}" >&2; } || rc=$?
  [ -z "$made_policy" ] || rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------------------------------------------------------ network

# The cluster's addresses, in one 10.X.0.0/16 with nothing on it yet (kept in net, so the PKI stays valid):
# the node (and the apiserver) at 10.X.0.1/32 on a bridge of its own without ports ($node_if; this kernel has
# no dummy interfaces), Services in 10.X.64.0/24 (the apiserver at .1, DNS at .10), pods in 10.X.128.0/24 on
# the CNI bridge ($cni_if, gateway .1).
load_net() {
  local f="$k8s_dir/net" x="" cand
  if [ -f "$f" ]; then
    x="$(sed -n 's/^net=//p' "$f")"
    if [ -n "${GPUMON_K8S_NET:-}" ] && [ "$GPUMON_K8S_NET" != "$x" ]; then
      die "GPUMON_K8S_NET=$GPUMON_K8S_NET but the cluster in $k8s_dir uses $x: stop --purge it first"
    fi
  elif [ -n "${GPUMON_K8S_NET:-}" ]; then
    if ! [[ "$GPUMON_K8S_NET" =~ ^10\.([0-9]{1,3})$ ]] || ((BASH_REMATCH[1] > 255)); then
      die "GPUMON_K8S_NET=$GPUMON_K8S_NET is not 10.X"
    fi
    net_in_use "$GPUMON_K8S_NET" && die "GPUMON_K8S_NET=$GPUMON_K8S_NET: $GPUMON_K8S_NET.0.0/16 already has addresses or routes here"
    x="$GPUMON_K8S_NET"
  else
    for cand in $(seq 213 250); do
      if ! net_in_use "10.$cand"; then
        x="10.$cand"
        break
      fi
    done
    [ -n "$x" ] || die "no free 10.X.0.0/16 among 10.213 ... 10.250: set GPUMON_K8S_NET"
  fi
  if [ ! -f "$f" ]; then echo "net=$x" >"$f"; fi
  node_ip="$x.0.1"
  service_cidr="$x.64.0/24"
  api_service_ip="$x.64.1"
  dns_ip="$x.64.10"
  pod_cidr="$x.128.0/24"
  pod_gateway="$x.128.1"
}

# True when some address or route of this machine (other than the cluster's own interfaces) is in $1.0.0/16.
net_in_use() {
  local prefix="${1//./\\.}"
  ip -4 -o addr show | grep -v -E " ($node_if|$cni_if) " | grep -q -E "inet $prefix\." && return 0
  ip -4 route show table all | grep -v -E "dev ($node_if|$cni_if)( |$)" | grep -q -E "(^| )$prefix\." && return 0
  return 1
}

net_up() {
  # bridged pod traffic must pass iptables (kube-proxy's DNAT for Services between pods on the bridge)
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || die "br_netfilter is not loaded (modprobe br_netfilter)"
  [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ] || echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
  # routing between pods through the bridge's gateway (Service DNAT) needs forwarding; the guard below keeps
  # it to the bridge. The value before is restored at stop.
  [ -f "$k8s_dir/ip_forward.before" ] || cat /proc/sys/net/ipv4/ip_forward >"$k8s_dir/ip_forward.before"
  # the nftables tables there are before kubelet and kube-proxy add theirs (iptables-nft makes a table on first
  # use, e.g. ip6 nat): stop removes the ones that were not there, when they are empty again
  if [ ! -f "$k8s_dir/nft-tables.before" ] && command -v nft >/dev/null; then
    nft list tables >"$k8s_dir/nft-tables.before" 2>/dev/null || true
  fi
  echo 1 >/proc/sys/net/ipv4/ip_forward
  if ! ip link show "$node_if" >/dev/null 2>&1; then
    ip link add "$node_if" type bridge
    # IPv4 only: no IPv6 link-local address either
    echo 1 >"/proc/sys/net/ipv6/conf/$node_if/disable_ipv6" 2>/dev/null || true
  fi
  ip addr replace "$node_ip/32" dev "$node_if"
  ip link set "$node_if" up
  # the machine's own traffic to Service IPs leaves from the node's address (never eth0's), DNATed by kube-proxy
  ip route replace "$service_cidr" dev "$node_if" src "$node_ip"
  guard_up
}

# iptables guard: pods reach other pods, the node's address and their gateway, nothing else (no forwarding off
# the bridge, in or out: hostPorts and pods stay unreachable from the network and the network from pods).
guard_up() {
  iptables -w -N "$guard-FWD" 2>/dev/null || iptables -w -F "$guard-FWD"
  iptables -w -A "$guard-FWD" -i "$cni_if" -o "$cni_if" -j RETURN
  iptables -w -A "$guard-FWD" -i "$cni_if" -j REJECT
  iptables -w -A "$guard-FWD" -o "$cni_if" -j REJECT
  iptables -w -N "$guard-IN" 2>/dev/null || iptables -w -F "$guard-IN"
  iptables -w -A "$guard-IN" -i "$cni_if" -d "$node_ip" -j RETURN
  iptables -w -A "$guard-IN" -i "$cni_if" -d "$pod_gateway" -j RETURN
  iptables -w -A "$guard-IN" -i "$cni_if" -j REJECT
  guard_first
}

# Puts the guard's jumps first in FORWARD and INPUT (kube-proxy prepends its own; the guard must see packets first).
guard_first() {
  while iptables -w -D FORWARD -j "$guard-FWD" 2>/dev/null; do :; done
  while iptables -w -D INPUT -j "$guard-IN" 2>/dev/null; do :; done
  iptables -w -I FORWARD 1 -j "$guard-FWD"
  iptables -w -I INPUT 1 -j "$guard-IN"
}

write_cni_config() {
  mkdir -p "$k8s_dir/cni/net.d" "$k8s_dir/cni/ipam"
  cat >"$k8s_dir/cni/net.d/10-gpumon.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$cni_net",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$cni_if",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$pod_cidr", "gateway": "$pod_gateway" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$k8s_dir/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
}

# ------------------------------------------------------------------------------------------------ PKI

# One certificate signed by the cluster's CA: NAME CN O USAGE(clientAuth|serverAuth|both) [SAN].
make_cert() {
  local name="$1" cn="$2" o="$3" usage="$4" san="${5:-}" subj eku
  [ -f "$pki/$name.crt" ] && return 0
  subj="/CN=$cn"
  [ -z "$o" ] || subj="/O=$o$subj"
  case "$usage" in
    both) eku="serverAuth,clientAuth" ;;
    *) eku="$usage" ;;
  esac
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$pki/$name.ext"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
    -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null || die "openssl could not sign $name"
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

make_pki() {
  mkdir -p "$pki"
  chmod 700 "$pki"
  if [ ! -f "$pki/ca.crt" ]; then
    say "making the PKI in $pki"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=gpumon-k8s-ca" -days 3650 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$pki/ca.crt" 2>/dev/null || die "openssl could not make the CA"
  fi
  make_cert apiserver kube-apiserver "" serverAuth \
    "IP:$node_ip,IP:$api_service_ip,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  make_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  make_cert admin admin system:masters clientAuth
  make_cert controller-manager system:kube-controller-manager "" clientAuth
  make_cert scheduler system:kube-scheduler "" clientAuth
  make_cert kube-proxy system:kube-proxy "" clientAuth
  make_cert kubelet "system:node:$node_name" system:nodes clientAuth
  make_cert kubelet-serving "system:node:$node_name" system:nodes serverAuth "IP:$node_ip,DNS:$node_name"
  if [ ! -f "$pki/sa.key" ]; then
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
  chmod 600 "$pki"/*.key
}

# A kubeconfig for $1 with the client certificate pki/$2.crt, at $3.
write_kubeconfig() {
  cat >"$3" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: gpumon
    cluster:
      certificate-authority: $pki/ca.crt
      server: https://$node_ip:6443
users:
  - name: $1
    user:
      client-certificate: $pki/$2.crt
      client-key: $pki/$2.key
contexts:
  - name: gpumon
    context:
      cluster: gpumon
      user: $1
current-context: gpumon
YAML
  chmod 600 "$3"
}

# ------------------------------------------------------------------------------------------------ configs

write_configs() {
  mkdir -p "$etc" "$k8s_dir/run" "$k8s_dir/volumes" "$k8s_dir/pod-logs"
  write_kubeconfig admin admin "$admin_kubeconfig"
  write_kubeconfig system:kube-controller-manager controller-manager "$etc/controller-manager.kubeconfig"
  write_kubeconfig system:kube-scheduler scheduler "$etc/scheduler.kubeconfig"
  write_kubeconfig system:kube-proxy kube-proxy "$etc/kube-proxy.kubeconfig"
  write_kubeconfig "system:node:$node_name" kubelet "$etc/kubelet.kubeconfig"
  write_cni_config
  write_crictl_config
  # pods with dnsPolicy Default (CoreDNS) get no nameserver: nothing resolves outside the cluster
  : >"$etc/resolv.conf"

  cat >"$etc/containerd.toml" <<TOML
# Generated by scripts/k8s/cluster.sh: the cluster's own containerd (own root, state and socket; never the
# system's), CRI for kubelet, runc, CNI from Debian's containernetworking-plugins.
version = 2
root = "$k8s_dir/containerd/root"
state = "$k8s_dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$k8s_dir/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$pause_image"
    # no CAP_SYS_RESOURCE here: without it every sandbox fails ("can't get final child's PID from pipe")
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    max_container_log_line_size = 16384
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      discard_unpacked_layers = false
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "$(command -v runc)"
          Root = "$k8s_dir/containerd/runc"
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$k8s_dir/cni/net.d"
      max_conf_num = 1
TOML

  cat >"$etc/kubelet.yaml" <<YAML
# Generated by scripts/k8s/cluster.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $pki/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$dns_ip]
resolvConf: $etc/resolv.conf
maxPods: 60
podLogsDir: $k8s_dir/pod-logs
volumePluginDir: $k8s_dir/kubelet-plugins
containerLogMaxSize: 10Mi
containerLogMaxFiles: 3
serializeImagePulls: false
# the control plane runs outside pods: reserve a little for it, the node is for the gpumon stack
systemReserved:
  cpu: 50m
  memory: 128Mi
kubeReserved:
  cpu: 50m
  memory: 128Mi
# never evict on a disk that is merely full-ish, and never garbage-collect images: the cluster's images were
# imported (no registry to pull them again from)
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1Gi
  nodefs.inodesFree: 1%
  imagefs.available: 1Gi
  imagefs.inodesFree: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMaximumGCAge: 0s
YAML

  cat >"$etc/kube-proxy.yaml" <<YAML
# Generated by scripts/k8s/cluster.sh.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $etc/kube-proxy.kubeconfig
hostnameOverride: $node_name
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $pod_cidr
detectLocalMode: ClusterCIDR
# NodePorts on the node's address only (never the machine's own)
nodePortAddresses: [$node_ip/32]
iptables:
  localhostNodePorts: false
  masqueradeAll: false
  syncPeriod: 30s
  minSyncPeriod: 1s
# leave the machine's conntrack settings alone
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
YAML
}

# ------------------------------------------------------------------------------------------------ images

# The cluster's own images (there is no registry to pull from): pause, CoreDNS, local-path-provisioner and
# busybox, each one layer made by oci.sh into images/, once per binary.
build_images() {
  mkdir -p "$k8s_dir/images"
  image_tar pause "$pause_image" "$bin/gpumon-pause" /pause -- /pause
  image_tar coredns "$coredns_image" "$bin/coredns" /coredns -- /coredns
  image_tar local-path-provisioner "$lpp_image" "$bin/local-path-provisioner" /usr/local/bin/local-path-provisioner -- \
    /usr/local/bin/local-path-provisioner
  image_tar busybox "$busybox_image" /bin/busybox /bin/busybox -- /bin/sh
}

# image_tar FILE_NAME IMAGE SOURCE_BINARY PATH_IN_IMAGE -- ENTRYPOINT...: makes images/FILE_NAME.tar unless
# it exists for this image name and binary (images/FILE_NAME.stamp).
image_tar() {
  local file="$1" image="$2" src="$3" dest="$4" tar stamp root
  shift 5
  tar="$k8s_dir/images/$file.tar"
  stamp="$image $(sha256sum "$src" | cut -d' ' -f1)"
  [ -f "$tar" ] && [ "$(cat "$k8s_dir/images/$file.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  root="$(mktemp -d)"
  mkdir -p "$root/$(dirname "$dest")" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  cp "$src" "$root/$dest"
  chmod 755 "$root/$dest"
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
  echo "root:x:0:" >"$root/etc/group"
  if [ "$file" = busybox ]; then
    # every applet as a link in /bin (sh, wget, nc, nslookup, mkdir, rm, ...)
    local applet
    for applet in $("$src" --list); do
      [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
  fi
  "$here/oci.sh" "$root" "$image" "$tar" "$@" 2>/dev/null || { rm -rf "$root"; die "oci.sh failed for $image"; }
  rm -rf "$root"
  echo "$stamp" >"$k8s_dir/images/$file.stamp"
  rm -f "$k8s_dir/images/$file.imported"
}

# Imports each image tar that this containerd does not have as made (images/NAME.imported: the stamp imported).
import_images() {
  local f stamp have
  have="$(ctr_ images ls -q 2>/dev/null)"
  for f in pause coredns local-path-provisioner busybox; do
    stamp="$(cat "$k8s_dir/images/$f.stamp")"
    if [ "$(cat "$k8s_dir/images/$f.imported" 2>/dev/null)" = "$stamp" ] && grep -qxF "${stamp%% *}" <<<"$have"; then
      continue
    fi
    ctr_ images import "$k8s_dir/images/$f.tar" >>"$logs/images.log" 2>&1 ||
      { tail -20 "$logs/images.log" >&2; die "ctr images import $k8s_dir/images/$f.tar failed"; }
    echo "$stamp" >"$k8s_dir/images/$f.imported"
  done
}

# ------------------------------------------------------------------------------------------------ start

start() {
  lock_service
  start_locked
}

all_running() {
  local c
  for c in "${components[@]}"; do comp_pid "$c" >/dev/null || return 1; done
}

start_locked() {
  if all_running && [ -f "$env_file" ]; then
    print_env
    return 0
  fi
  local c
  for c in "${components[@]}"; do
    if comp_pid "$c" >/dev/null; then
      say "some components run, not all (an interrupted start or a crash): stopping them first"
      stop_locked
      break
    fi
  done
  rm -f "$env_file"
  [ "$(id -u)" = 0 ] || die "the cluster needs root (network interfaces, iptables, mounts)"
  [ ${#sock} -lt 100 ] || die "containerd's socket path $sock is too long for a unix socket: set a shorter GPUMON_K8S_DIR"
  # Installing and building (a first run on a fresh machine: apt-get, then about 12 minutes of Go builds) is
  # not part of the start: the start's timeout counts from here.
  install_packages
  need_bin
  busybox_version
  start_began=$SECONDS
  # API times are whole seconds: a status from this start is stamped at or after this (a kept etcd still has
  # the Ready node and pods of the run before, which must not count)
  start_stamp="$(date -u +%FT%TZ)"
  local p
  for p in "$etcd_port" "$etcd_peer_port" 10257 10259 10248 10249 10256; do
    port_open "$p" && die "port 127.0.0.1:$p is in use by another process (the cluster needs it)"
  done
  load_net
  mkdir -p "$logs" "$pids"
  make_pki
  write_configs
  build_images
  net_up

  say "etcd"
  launch etcd "$bin/etcd" --name gpumon --data-dir "$k8s_dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "gpumon=http://127.0.0.1:$etcd_peer_port" --initial-cluster-state new \
    --auto-compaction-mode periodic --auto-compaction-retention 1h --quota-backend-bytes 2147483648 \
    --log-level warn
  await etcd "etcd's /health on 127.0.0.1:$etcd_port" etcd_healthy

  say "kube-apiserver"
  launch kube-apiserver "$bin/kube-apiserver" \
    --bind-address="$node_ip" --advertise-address="$node_ip" --secure-port=6443 \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --service-cluster-ip-range="$service_cidr" --service-node-port-range=30000-32767 \
    --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false --event-ttl=1h
  await kube-apiserver "the apiserver's /readyz on https://$node_ip:6443" api_ready

  say "kube-controller-manager, kube-scheduler"
  launch kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$etc/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$etc/controller-manager.kubeconfig" --authorization-kubeconfig="$etc/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --use-service-account-credentials=true --service-cluster-ip-range="$service_cidr" \
    --allocate-node-cidrs=false --profiling=false --terminated-pod-gc-threshold=200 \
    --flex-volume-plugin-dir="$k8s_dir/kubelet-plugins"
  launch kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig="$etc/scheduler.kubeconfig" \
    --authentication-kubeconfig="$etc/scheduler.kubeconfig" --authorization-kubeconfig="$etc/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --profiling=false

  say "containerd"
  mkdir -p "$k8s_dir/containerd"
  launch containerd containerd --config "$etc/containerd.toml"
  await containerd "containerd on $sock" containerd_up
  import_images

  say "kubelet"
  launch kubelet "$bin/kubelet" --config="$etc/kubelet.yaml" --kubeconfig="$etc/kubelet.kubeconfig" \
    --root-dir="$k8s_dir/kubelet" --hostname-override="$node_name" --node-ip="$node_ip" \
    --node-labels="nvidia.com/gpu.present=true,gpumon.dev/test-node=true"
  say "kube-proxy"
  launch kube-proxy "$bin/kube-proxy" --config="$etc/kube-proxy.yaml"
  await kube-controller-manager "the controller-manager's /healthz on 127.0.0.1:10257" healthz 10257
  await kube-scheduler "the scheduler's /healthz on 127.0.0.1:10259" healthz 10259
  await kube-proxy "kube-proxy's /healthz on 127.0.0.1:10256" kube_proxy_healthy
  await kubelet "node $node_name to be Ready" node_ready
  # an earlier run's label (or a node object someone edited): the label gpumon's agent DaemonSet selects
  kubectl_ label node "$node_name" nvidia.com/gpu.present=true --overwrite >/dev/null

  say "CoreDNS and the local-path StorageClass"
  apply_addons
  await kubelet "CoreDNS to answer kubernetes.default.svc.cluster.local at $dns_ip" dns_answers
  await kubelet "the local-path provisioner to run" pod_ready local-path-storage app=local-path-provisioner
  # kube-proxy has synced (DNS answered through its rules) and prepended its jumps: the guard goes first again
  guard_first

  {
    echo "KUBECONFIG=$admin_kubeconfig"
    echo "GPUMON_TEST_KUBECONFIG=$admin_kubeconfig"
    echo "GPUMON_TEST_K8S_BIN=$bin"
    echo "GPUMON_TEST_CONTAINERD_SOCK=$sock"
    echo "GPUMON_TEST_K8S_NODE_IP=$node_ip"
    echo "GPUMON_TEST_K8S_BUSYBOX_IMAGE=$busybox_image"
  } >"$env_file"
  say "Kubernetes $k8s_version ready in $((SECONDS - start_began))s: node $node_name ($node_ip), apiserver https://$node_ip:6443, DNS $dns_ip; state and logs in $k8s_dir"
  print_env
}

containerd_up() { ctr_ version >/dev/null 2>&1; }
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"'; }
api_ready() {
  curl -fsS --max-time 3 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://$node_ip:6443/readyz" >/dev/null 2>&1
}
healthz() { curl -ksS --max-time 2 "https://127.0.0.1:$1/healthz" 2>/dev/null | grep -qx ok; }
kube_proxy_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:10256/healthz" >/dev/null 2>&1; }
# The node is Ready by a status its kubelet posted since this start.
node_ready() {
  local got
  got="$(kubectl_ get node "$node_name" -o 'jsonpath={range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}' 2>/dev/null)" || return 1
  [ "${got%% *}" = True ] && [[ ! "${got#* }" < "$start_stamp" ]]
}
# A pod labelled $2 in namespace $1 has its container ready, started since this start.
pod_ready() {
  kubectl_ -n "$1" get pods -l "$2" -o 'jsonpath={range .items[*]}{.status.containerStatuses[0].ready} {.status.containerStatuses[0].state.running.startedAt}{"\n"}{end}' 2>/dev/null |
    {
      while read -r ready started; do
        [ "$ready" = true ] && [ -n "$started" ] && [[ ! "$started" < "$start_stamp" ]] && exit 0
      done
      exit 1
    }
}
# A DNS query from this machine to the cluster's DNS Service (kube-proxy DNATs it to the CoreDNS pod).
dns_answers() {
  node -e '
    const { Resolver } = require("node:dns").promises;
    const r = new Resolver({ timeout: 1000, tries: 1 });
    r.setServers([process.argv[1]]);
    r.resolve4("kubernetes.default.svc.cluster.local").then(
      (a) => process.exit(a.includes(process.argv[2]) ? 0 : 1),
      () => process.exit(1),
    );' "$dns_ip" "$api_service_ip" 2>/dev/null
}

apply_addons() {
  local m out
  for m in coredns local-path; do
    sed -e "s|@DNS_IP@|$dns_ip|g" -e "s|@COREDNS_IMAGE@|$coredns_image|g" -e "s|@LPP_IMAGE@|$lpp_image|g" \
      -e "s|@BUSYBOX_IMAGE@|$busybox_image|g" -e "s|@VOLUMES_DIR@|$k8s_dir/volumes|g" \
      "$here/manifests/$m.yaml" >"$etc/$m.yaml"
    out="$(kubectl_ apply -f "$etc/$m.yaml" 2>&1)" || { echo "$out" >&2; die "kubectl apply $etc/$m.yaml failed"; }
    echo "$out" >>"$logs/addons.log"
  done
}

# ------------------------------------------------------------------------------------------------ stop

stop() {
  lock_service
  stop_locked
  if [ "${1:-}" = --purge ]; then
    purge
  else
    say "stopped; state kept in $k8s_dir (stop --purge removes it)"
  fi
}

stop_locked() {
  load_net_if_known
  rm -f "$env_file"
  stop_comps 20 kubelet
  if comp_pid containerd >/dev/null; then
    need_bin
    # the pods, through the CRI: containerd stops their containers and CNI removes their veths and addresses
    crictl_ rmp --all --force >>"$logs/stop.log" 2>&1 || say "crictl rmp --all --force failed (see $logs/stop.log); killing what is left"
  fi
  stop_comps 20 containerd
  kill_leftovers
  stop_comps 10 kube-proxy kube-scheduler kube-controller-manager
  if [ -n "$bin" ] || bin="$("$here/build.sh" 2>/dev/null)"; then
    "$bin/kube-proxy" --cleanup >>"$logs/stop.log" 2>&1 || true
  fi
  stop_comps 20 kube-apiserver
  stop_comps 20 etcd
  unmount_all
  net_down
}

load_net_if_known() {
  if [ -f "$k8s_dir/net" ]; then load_net; else node_ip="" pod_cidr=""; fi
}

# Processes containerd left behind (shims of a containerd that crashed, containers of kubelet's cgroups).
kill_leftovers() {
  local -
  set +e +o pipefail # best effort: clean up all that can be
  local p cmd victims=()
  for p in /proc/[0-9]*; do
    cmd="$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" || continue
    case "$cmd" in
      *containerd-shim*"$sock"*) victims+=("${p#/proc/}") ;;
    esac
  done
  # every process left in the pods' cgroups (kubelet makes them under /kubepods with the cgroupfs driver)
  local tasks
  for tasks in /sys/fs/cgroup/pids/kubepods /sys/fs/cgroup/memory/kubepods; do
    [ -d "$tasks" ] || continue
    while IFS= read -r p; do victims+=("$p"); done < <(find "$tasks" -name cgroup.procs -exec cat {} + 2>/dev/null)
    break
  done
  if [ ${#victims[@]} -gt 0 ]; then
    say "killing ${#victims[@]} processes the pods or containerd left: ${victims[*]}"
    kill -KILL "${victims[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  # the pods' cgroups, deepest first
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "${h}kubepods" ] || continue
    find "${h}kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  return 0
}

# Every mount under the state dir (kubelet's volumes and its rshared bind of its root, containerd's rootfs,
# shm and network namespaces), deepest first; then the network namespace files (nsfs mounts until now).
unmount_all() {
  local -
  set +e +o pipefail # best effort: clean up all that can be
  local m i
  for i in 1 2 3; do
    mapfile -t mounts < <(findmnt -rn -o TARGET | grep -F "$k8s_dir/" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
    [ ${#mounts[@]} -eq 0 ] && break
    for m in "${mounts[@]}"; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  done
  if findmnt -rn -o TARGET | grep -qF "$k8s_dir/"; then
    say "WARNING: mounts left under $k8s_dir: $(findmnt -rn -o TARGET | grep -F "$k8s_dir/" | tr '\n' ' ')"
  fi
  rm -rf "$k8s_dir/containerd/state/io.containerd.grpc.v1.cri/netns"
  return 0
}

net_down() {
  local -
  set +e +o pipefail # best effort: clean up all that can be
  local l
  # veths the CNI left on its bridge (their pods' namespaces are gone by now, which removes most)
  if ip link show "$cni_if" >/dev/null 2>&1; then
    for l in $(ip -o link show master "$cni_if" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
      ip link del "$l" 2>/dev/null || true
    done
    ip link del "$cni_if" 2>/dev/null || true
  fi
  ip link del "$node_if" 2>/dev/null || true
  iptables_clean iptables
  command -v ip6tables >/dev/null && iptables_clean ip6tables
  nft_clean
  # what kubelet keeps outside its root dir whatever it is told: the device plugins' socket and its checkpoint
  # of their allocations (and the sockets of test/k8s/device-plugin's fake plugins), the links to container
  # logs; CNI's result cache; containerd's shim sockets. Directories only when empty (others' stay): the
  # stack's agent makes /var/lib/kubelet/pod-resources (its hostPath), empty here (this kubelet's is elsewhere).
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint \
    /var/lib/kubelet/device-plugins/gpumon-test-*.sock
  find /var/log/containers -maxdepth 1 -type l -lname "$k8s_dir/*" -delete 2>/dev/null
  # CNI's cache of this cluster's pods (theirs name our network namespaces' paths)
  grep -lF "$k8s_dir/" /var/lib/cni/results/* 2>/dev/null | xargs -r rm -f
  rm -f /var/lib/cni/results/"$cni_net"-*
  # shim sockets nobody listens on any more (shims that were killed)
  local sk listening
  listening="$(ss -xlH 2>/dev/null)"
  for sk in /run/containerd/s/*; do
    [ -S "$sk" ] && ! grep -qF "$sk" <<<"$listening" && rm -f "$sk"
  done
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet/pod-resources /var/lib/kubelet /var/log/containers \
    /var/lib/cni/results /var/lib/cni /run/containerd/s /run/containerd 2>/dev/null
  rm -rf "$k8s_dir/cni/ipam/$cni_net"
  if [ -f "$k8s_dir/ip_forward.before" ]; then
    local before other
    before="$(cat "$k8s_dir/ip_forward.before")"
    # another bridge (podman's) may need forwarding since: then leave it on
    other="$(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep -v -x -E "$node_if|$cni_if" || true)"
    if [ "$before" = 0 ] && [ -z "$other" ]; then
      echo 0 >/proc/sys/net/ipv4/ip_forward
    elif [ "$before" = 0 ]; then
      say "leaving net.ipv4.ip_forward at 1 (it was 0 before the start): other bridges need it now ($other)"
    fi
    rm -f "$k8s_dir/ip_forward.before"
  fi
  return 0
}

# Removes the iptables chains the cluster made (KUBE-* of kube-proxy and kubelet, the guard, and the CNI-*
# chains of this cluster's network: portmap's CNI-DN-* and the shared CNI-HOSTPORT-* once no other network's
# rules are left in them), with every rule that jumps to them, in every table.
iptables_clean() {
  local -
  set +e +o pipefail # best effort: clean up all that can be
  local fam="$1" t dump chains c rule
  command -v "$fam-save" >/dev/null || return 0
  for t in filter nat mangle raw; do
    dump="$("$fam-save" -t "$t" 2>/dev/null)" || continue
    chains="$(
      echo "$dump" | sed -n 's/^:\(KUBE-[^ ]*\|GPUMON-K8S[^ ]*\) .*/\1/p'
      # CNI chains with a rule naming our network
      echo "$dump" | grep -E "^-A CNI-" | grep -F "\"$cni_net\"" | awk '{print $2}' | sort -u
    )"
    # our rules in the shared CNI-HOSTPORT-* chains; then those chains when nothing else is left in them
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      eval "\"$fam\" -w -t \"$t\" -D ${rule#-A }" 2>/dev/null || true
    done < <(echo "$dump" | grep -E "^-A CNI-HOSTPORT-" | grep -E -- "-j ($(echo "$chains" | paste -sd'|' -))( |$)" 2>/dev/null || true)
    dump="$("$fam-save" -t "$t" 2>/dev/null)"
    for c in $(echo "$dump" | sed -n 's/^:\(CNI-HOSTPORT-[^ ]*\) .*/\1/p'); do
      echo "$dump" | grep -qE "^-A $c " || chains="$chains"$'\n'"$c"
    done
    chains="$(echo "$chains" | grep . | sort -u || true)"
    [ -n "$chains" ] || continue
    # the jumps to them from chains that stay (built-in ones and others'), then the chains themselves
    local pattern
    pattern="$(echo "$chains" | paste -sd'|' -)"
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      c="$(echo "$rule" | awk '{print $2}')"
      echo "$chains" | grep -qxF "$c" && continue
      eval "\"$fam\" -w -t \"$t\" -D ${rule#-A }" 2>/dev/null || true
    done < <(echo "$dump" | grep -E -- "^-A .* -j ($pattern)( |$)" || true)
    for c in $chains; do "$fam" -w -t "$t" -F "$c" 2>/dev/null || true; done
    for c in $chains; do "$fam" -w -t "$t" -X "$c" 2>/dev/null || true; done
  done
  return 0
}

# nftables tables that were not there before the start and are empty now (only built-in chains, no rules).
nft_clean() {
  local -
  set +e +o pipefail
  command -v nft >/dev/null && [ -f "$k8s_dir/nft-tables.before" ] || return 0
  local fam name
  while read -r _ fam name; do
    [ -n "$name" ] || continue
    grep -qxF "table $fam $name" "$k8s_dir/nft-tables.before" && continue
    # anything but the table, its built-in chains' headers and closing braces is a rule or set: keep it
    if ! nft list table "$fam" "$name" 2>/dev/null | grep -vE '^\s*$|^table |^\s*chain [A-Z]+ \{$|^\s*type [a-z]+ hook [a-z]+ priority [-a-z0-9]+; policy accept;$|^\s*\}$' | grep -q .; then
      nft delete table "$fam" "$name" 2>/dev/null
    fi
  done < <(nft list tables 2>/dev/null)
  rm -f "$k8s_dir/nft-tables.before"
  return 0
}

purge() {
  findmnt -rn -o TARGET | grep -qF "$k8s_dir/" && die "mounts are left under $k8s_dir: not removing it"
  rm -rf --one-file-system "$k8s_dir"
  say "removed $k8s_dir"
}

# ------------------------------------------------------------------------------------------------ status, images

status() {
  local c down=()
  for c in "${components[@]}"; do comp_pid "$c" >/dev/null || down+=("$c"); done
  if [ ${#down[@]} -eq 0 ] && [ -f "$env_file" ]; then
    print_env
    return 0
  fi
  if [ ${#down[@]} -eq ${#components[@]} ]; then say "not running"; else say "not running: ${down[*]} down"; fi
  return 3
}

# load-image FILE.tar [BASE_NAME]: an OCI archive or a docker archive into the cluster's containerd.
load_image() {
  local file="${1:-}" base="${2:-}" names=() args=()
  [ -f "$file" ] || die "usage: cluster.sh load-image FILE.tar [BASE_NAME] (no file '$file')"
  comp_pid containerd >/dev/null || die "the cluster is not running (scripts/k8s/cluster.sh start)"
  local listing
  listing="$(tar -tf "$file")" || die "$file is not a tar archive"
  if grep -qx 'index.json' <<<"$listing"; then
    # OCI archive: containerd names an image by the annotation io.containerd.image.name, else by
    # org.opencontainers.image.ref.name, which podman fills with the full name (localhost/x:tag): ctr keeps a
    # full name only under a --base-name it starts with, so pass each repository as the base name.
    local index refs r
    index="$(tar -xOf "$file" index.json)"
    refs="$(node -e '
      const ix = JSON.parse(process.argv[1]);
      for (const m of ix.manifests ?? []) {
        const a = m.annotations ?? {};
        console.log(a["io.containerd.image.name"] ? "" : (a["org.opencontainers.image.ref.name"] ?? ""));
      }' "$index")"
    local bases=()
    while IFS= read -r r; do
      [ -n "$r" ] || continue
      if [[ "$r" == */* || "$r" == *:*:* || "$r" == *@* ]]; then
        bases+=("$(strip_tag "$r")")
      elif [ -z "$base" ]; then
        die "$file names its image only by the tag '$r': give the repository, e.g. load-image $file localhost/NAME"
      fi
    done <<<"$refs"
    [ -z "$base" ] || bases+=("$base")
    mapfile -t bases < <(printf '%s\n' "${bases[@]}" | grep . | sort -u)
    if [ ${#bases[@]} -eq 0 ]; then
      args=(images import "$file")
      import_named "${args[@]}"
    else
      for r in "${bases[@]}"; do import_named images import --base-name "$r" "$file"; done
    fi
  else
    grep -qx 'manifest.json' <<<"$listing" || die "$file is neither an OCI archive (index.json) nor a docker archive (manifest.json)"
    import_named images import "$file"
  fi
}

# REPOSITORY of REPOSITORY:TAG (a registry's :port stays).
strip_tag() {
  local r="${1%@*}" last
  last="${r##*/}"
  if [[ "$last" == *:* ]]; then echo "${r%:*}"; else echo "$r"; fi
}

# Runs `ctr ARGS...` and prints the names it imported (from its "unpacking NAME (sha256:...)" lines); fails
# when it imported none, or containerd's CRI (kubelet's view) does not list them.
import_named() {
  local out rc=0 names n
  out="$(ctr_ "$@" 2>&1)" || rc=$?
  echo "$out" >&2
  [ "$rc" = 0 ] || die "ctr $* failed"
  names="$(echo "$out" | sed -n 's/^unpacking \([^ ]*\) (sha256:.*/\1/p')"
  [ -n "$names" ] || die "ctr imported no named image from $*: give the repository as BASE_NAME (load-image FILE.tar localhost/NAME)"
  need_bin
  for n in $names; do
    crictl_ inspecti "$n" >/dev/null 2>&1 || die "imported $n, but the CRI does not list it"
    echo "$n"
  done
}

# ------------------------------------------------------------------------------------------------ main

case "${1:-}" in
  start) start ;;
  stop)
    case "${2:-}" in
      "" | --purge) stop "${2:-}" ;;
      *) die "usage: cluster.sh stop [--purge]" ;;
    esac
    ;;
  status) status ;;
  env)
    status >/dev/null 2>&1 || { say "not running"; exit 3; }
    sed 's/^/export /' "$env_file"
    ;;
  logs)
    if [ -n "${2:-}" ] && [[ ! "$2" =~ ^[0-9]+$ ]]; then
      [ -f "$logs/$2.log" ] || die "no log for '$2' (components: ${components[*]}; also images, addons, stop)"
      tail -n "${3:-200}" "$logs/$2.log"
    else
      print_logs "${2:-200}"
    fi
    ;;
  load-image)
    shift
    load_image "$@"
    ;;
  kubectl)
    shift
    need_bin
    exec "$bin/kubectl" --kubeconfig "$admin_kubeconfig" "$@"
    ;;
  crictl)
    shift
    need_bin
    [ -f "$etc/crictl.yaml" ] || write_crictl_config
    exec "$bin/crictl" --config "$etc/crictl.yaml" "$@"
    ;;
  *)
    echo "usage: $0 start|stop [--purge]|status|env|logs [COMPONENT] [N]|load-image FILE.tar [BASE_NAME]|kubectl ARGS...|crictl ARGS...|--help" >&2
    exit 2
    ;;
esac
