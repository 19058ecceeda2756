#!/usr/bin/env bash
# Builds every fuzz target (libFuzzer through the libfuzzer-sys crate, on
# stable Rust) and runs each for SECONDS on its committed corpus; exits
# non-zero if any target crashes, panics, times out or runs out of memory.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      default: 60 s, every target; 0: build only
#
# Environment:
#   FUZZ_PARALLEL   targets run at once (default 1; each uses one core)
#   FUZZ_TARGET_DIR cargo target directory (default fuzz/target)
#   FUZZ_JOBS       cargo build jobs (default: cargo's)
#   FUZZ_KEEP_GOING=1  long runs: keep fuzzing after a crash (libFuzzer fork
#                   mode), collecting every crash; the run still fails
#
# New inputs go to fuzz/target/corpus/TARGET (not the committed corpus);
# a crash is saved as fuzz/target/artifacts/TARGET/crash-* and its stack
# trace is printed. Minimise one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET -minimize_crash=1 -runs=100000 FILE
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
parallel=${FUZZ_PARALLEL:-1}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target}
triple=x86_64-unknown-linux-gnu

# What cargo-fuzz passes to rustc (all stable): SanitizerCoverage with
# inline 8-bit counters, PC table and comparison tracing, and cfg(fuzzing).
# --target keeps these flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# The same dependency versions as the main crate: its lock file, to which
# cargo adds what only the fuzz crate uses (libfuzzer-sys).
cp ../Cargo.lock Cargo.lock
start=$(date +%s)
cargo build --release --target "$triple" ${FUZZ_JOBS:+-j "$FUZZ_JOBS"} \
  $(printf -- '--bin %s ' "${targets[@]}")
echo "fuzz: built ${#targets[@]} targets in $(( $(date +%s) - start )) s"
[ "$seconds" -gt 0 ] || exit 0

# Per-target limits on one input: PKCS#12 key derivation may legitimately
# run up to the documented iteration cap.
timeout_for() {
  case "$1" in
    pkcs12) echo 120 ;;
    *) echo 30 ;;
  esac
}

run_one() {
  local t=$1
  local bin=$CARGO_TARGET_DIR/$triple/release/$t
  local work=$CARGO_TARGET_DIR/corpus/$t
  local artifacts=$CARGO_TARGET_DIR/artifacts/$t/
  local log=$CARGO_TARGET_DIR/logs/$t.log
  rm -rf "$artifacts"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")" "corpus/$t"
  local status=0
  local keep_going=()
  [ -z "${FUZZ_KEEP_GOING:-}" ] || keep_going=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  "$bin" "${keep_going[@]}" -max_total_time="$seconds" -timeout="$(timeout_for "$t")" -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "corpus/$t" >"$log" 2>&1 || status=$?
  local execs
  execs=$(awk '/stat::number_of_executed_units/ { n = $NF }
               /^#[0-9]+/ { m = $1; gsub(/[^0-9]/, "", m) } END { print (n ? n : m) }' "$log")
  local crashes
  crashes=$(find "$artifacts" -type f | wc -l)
  [ "$crashes" -eq 0 ] || [ "$status" -ne 0 ] || status=1
  if [ "$status" -ne 0 ]; then
    echo "fuzz $t: FAILED (exit $status, $crashes inputs in $artifacts) after ${execs:-?} executions; log $log:"
    grep -v '^#[0-9]' "$log" | tail -60
    return 1
  fi
  echo "fuzz $t: ${execs:-?} executions in $seconds s, corpus $(find "$work" "corpus/$t" -type f | wc -l) files, no crash"
}

# Each run leaves TARGET.failed next to its log when it fails: bash may
# already have reaped a finished job, so exit statuses are not collected
# through `wait PID`.
rm -f "$CARGO_TARGET_DIR"/logs/*.failed
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do sleep 1; done
  { run_one "$t" || touch "$CARGO_TARGET_DIR/logs/$t.failed"; } &
done
wait
failed=()
for t in "${targets[@]}"; do
  [ ! -e "$CARGO_TARGET_DIR/logs/$t.failed" ] || failed+=("$t")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs under $CARGO_TARGET_DIR/artifacts/)"
  exit 1
fi
echo "fuzz: every target ran $seconds s without a crash"
