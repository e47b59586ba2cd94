#!/bin/sh
# A stand-in for rocm-smi in tests (run as `sh fake-rocm-smi.sh ARGS...`), driven by the environment:
#   FAKE_ROCM_SMI_FIXTURE   the file to print (a rocm-smi --json capture from this folder)
#   FAKE_ROCM_SMI_MODE      ok (default) | warn (prints the fixture, a warning, exits 1) | fail | garbage | hang
#   FAKE_ROCM_SMI_ARGS_FILE where to write the arguments it was given, one per line
if [ -n "$FAKE_ROCM_SMI_ARGS_FILE" ]; then printf '%s\n' "$@" > "$FAKE_ROCM_SMI_ARGS_FILE"; fi
case "$FAKE_ROCM_SMI_MODE" in
  warn)
    cat "$FAKE_ROCM_SMI_FIXTURE"
    echo 'WARNING: One or more commands failed'
    exit 1
    ;;
  fail)
    echo 'ERROR: No AMD GPUs specified' >&2
    exit 2
    ;;
  garbage)
    echo '========================= ROCm System Management Interface ========================='
    ;;
  hang)
    exec sleep 60
    ;;
  *)
    cat "$FAKE_ROCM_SMI_FIXTURE"
    ;;
esac
