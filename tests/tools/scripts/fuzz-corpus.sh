#!/usr/bin/env bash
# fuzz-corpus.sh: merges what fuzz.sh found (.cache/fuzz/<target>) with the committed corpus and keeps
# only inputs that add coverage (libFuzzer -merge=1), in tests/fuzz/corpus/<target>.
source "$(dirname "$0")/common.sh"
FUZZ=$(fuzz_command)
for t in $FUZZ_TARGETS; do
  rm -rf ".cache/fuzz/$t.min" && mkdir -p ".cache/fuzz/$t.min" ".cache/fuzz/$t" "tests/fuzz/corpus/$t"
  $FUZZ run --fuzz-dir tests/fuzz --sanitizer none "$t" ".cache/fuzz/$t.min" "tests/fuzz/corpus/$t" ".cache/fuzz/$t" \
    -- -merge=1 > ".cache/fuzz/$t.merge.log" 2>&1 ||
    { echo "merging $t failed (see .cache/fuzz/$t.merge.log)"; exit 1; }
  rm -rf "tests/fuzz/corpus/$t" && mv ".cache/fuzz/$t.min" "tests/fuzz/corpus/$t"
  echo "$t: $(ls "tests/fuzz/corpus/$t" | wc -l) inputs, $(du -sk "tests/fuzz/corpus/$t" | cut -f1) KB"
done
