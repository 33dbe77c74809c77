#!/usr/bin/env bash
# fuzz.sh: every fuzz target for FUZZ_SECONDS (600) each, FUZZ_JOBS (2) at a time (libFuzzer via cargo
# fuzz), then the executions of each and of the answer and callout targets in all. Seeds are in
# tests/fuzz/corpus/<target> (with a token dictionary in tests/fuzz/dicts/<target>.dict where one
# helps); what the fuzzer finds goes to .cache/fuzz/<target>; crashes to tests/fuzz/artifacts/<target>.
source "$(dirname "$0")/common.sh"
FUZZ=$(fuzz_command)
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
FUZZ_JOBS=${FUZZ_JOBS:-2}
# The answer and callout targets: Prometheus answers, shadow answer pairs, the rollout/fleet/shadow
# blocks, and the module driven by callout answers, ticks and clock jumps.
ANSWER_TARGETS=" prometheus_answer shadow_answers new_config_blocks module_callouts "
export FUZZ FUZZ_SECONDS

"$(dirname "$0")/install.sh" cargo-fuzz
echo "building the fuzz targets (sanitizer none, libFuzzer)"
$FUZZ build --fuzz-dir tests/fuzz --sanitizer none
mkdir -p .cache/fuzz

run_target() {
  t=$1
  mkdir -p ".cache/fuzz/$t" "tests/fuzz/regressions/$t" "tests/fuzz/corpus/$t"
  dict=""
  [ -f "tests/fuzz/dicts/$t.dict" ] && dict="-dict=tests/fuzz/dicts/$t.dict"
  # Inputs up to 1 KiB: a Seldon or Prometheus answer needs no more to reach every branch.
  case $t in prometheus_answer|shadow_answers) dict="$dict -max_len=1024" ;; esac
  echo "fuzzing $t for $FUZZ_SECONDS s"
  # shellcheck disable=SC2086
  $FUZZ run --fuzz-dir tests/fuzz --sanitizer none "$t" ".cache/fuzz/$t" "tests/fuzz/corpus/$t" \
    "tests/fuzz/regressions/$t" -- -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 $dict \
    > ".cache/fuzz/$t.log" 2>&1 ||
    { echo "fuzz target $t failed (see .cache/fuzz/$t.log and tests/fuzz/artifacts/$t)"; exit 255; }
}
export -f run_target

status=0
printf '%s\n' $FUZZ_TARGETS | xargs -P "$FUZZ_JOBS" -I{} bash -c 'run_target {}' || status=$?
total=0
for t in $FUZZ_TARGETS; do
  n=$(grep -h stat::number_of_executed_units ".cache/fuzz/$t.log" | awk '{print $2}')
  echo "$t: ${n:-0} executions in $FUZZ_SECONDS s, $(ls ".cache/fuzz/$t" | wc -l) inputs found so far"
  case $ANSWER_TARGETS in *" $t "*) total=$((total + ${n:-0})) ;; esac
done
echo "answer and callout targets ($ANSWER_TARGETS): $total executions in all"
exit $status
