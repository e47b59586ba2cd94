#!/usr/bin/env bash
# Captures what the NVML source reads from this machine's real NVIDIA GPUs (about 5 reads, 1 s apart) as JSON,
# to keep as a test fixture under src/sources/nvml/testdata/ (rename it after the GPU and driver).
#
#   scripts/device/nvml-capture.sh prepare   here (no GPU needed): bundle the capture into .cache/nvml-capture/
#                                            (capture.mjs + koffi's linux_x64 build, ~2 MiB), for a machine
#                                            without node_modules or network
#   scripts/device/nvml-capture.sh [ARGS]    on the GPU machine: writes $OUT/nvml-capture.json (default .tmp/);
#                                            ARGS go to capture.ts (--library PATH, --reads N, --interval-ms MS)
#   scripts/device/nvml-capture.sh selftest  here: the same run against the fake libnvidia-ml (src/sources/nvml/fake)
#
# It uses the bundle when present, else TypeScript through tsx from node_modules. Exit status 1: NVML could not
# be opened (the JSON still says why).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bundle="$root/.cache/nvml-capture"
out_dir="${OUT:-$root/.tmp}"

if [ "${1:-}" = prepare ]; then
  rm -rf "$bundle"
  mkdir -p "$bundle/node_modules/koffi/build/koffi"
  "$root/node_modules/.bin/esbuild" "$root/src/sources/nvml/capture.ts" --bundle --platform=node --format=esm \
    --external:koffi --log-level=warning --outfile="$bundle/capture.mjs"
  koffi="$root/node_modules/koffi"
  cp "$koffi/package.json" "$koffi/index.js" "$koffi/indirect.js" "$koffi/LICENSE.txt" "$bundle/node_modules/koffi/"
  cp -r "$koffi/build/koffi/linux_x64" "$bundle/node_modules/koffi/build/koffi/"
  du -sh "$bundle"
  exit 0
fi

if [ "${1:-}" = selftest ]; then
  shift
  library="$(cd "$root" && node --import tsx -e "
    import('./src/sources/nvml/fake/fake-nvml.ts').then((m) => console.log(m.buildFakeNvml()))")"
  export GPUMON_FAKE_NVML_SCENARIO="$root/src/sources/nvml/fake/scenarios/h100-pair.conf"
  set -- --library "$library" --interval-ms 10 "$@"
fi

mkdir -p "$out_dir"
if command -v nvidia-smi >/dev/null; then nvidia-smi -L >&2 || true; fi
if [ -f "$bundle/capture.mjs" ]; then
  exec node "$bundle/capture.mjs" --out "$out_dir/nvml-capture.json" "$@"
fi
cd "$root"
exec node --import tsx src/sources/nvml/capture.ts --out "$out_dir/nvml-capture.json" "$@"
