#!/usr/bin/env python3
"""`make mutants`: mutation testing of the decision core (src/router/) against its native suites.

cargo-mutants changes the core one small edit at a time and runs the suites of tests/core (and the
core's unit tests) against each mutant. This driver adds what cargo-mutants does not do itself:

1. A baseline of its own. cargo-mutants runs only the *mutated* package's tests in its baseline
   (since sourcefrog/cargo-mutants#154; 27.1's `run_baseline` ignores `test_package`), so its
   "ok Unmutated baseline" proves nothing about tests/core.
   Here the suites the mutants will face run unmutated first, and must pass and be many.
2. The equivalent mutants of mutants-equivalent.md, excluded by their full names (file, line, column,
   change). Each entry must name a mutant of the code as it is: when the code moves, the run stops
   at once and shows where the same change sits now, instead of hiding whatever mutant took its place.
3. A check that every mutant's test phase really ran the native suites (its log names them).
4. The summary: caught, missed, timeouts, unviable, equivalent, and the score against 90 %.

Arguments after `--` go to cargo mutants (for example `-- --re src/router/worker/`: the configuration's
examine_globs take precedence over `-f`).
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONFIG = HERE / "mutants.toml"
EQUIVALENT = HERE / "mutants-equivalent.md"
TEST_PACKAGES = ["predictor-router-core-tests", "predictor-router"]
# The suites the mutants face; a mutant's log must show each of them running.
SUITES = sorted(p.stem for p in (ROOT / "tests/core/tests").glob("*.rs"))
MIN_BASELINE_TESTS = 80
# The property tests draw from a fixed seed here, so that a mutant is caught or missed the same way in
# every run (make test keeps proptest's random seed, and explores new cases each time).
PROPTEST_SEED = "1930"
TARGET_SCORE = 0.90

# `- `src/router/x.rs:12:5: replace a with b in f`: reason`: the mutant's full name, as `--list` prints it.
ENTRY = re.compile(r"^- `(?P<name>src/[^`]+:\d+:\d+: [^`]+)`")


def say(text):
    print(f"mutants: {text}", flush=True)


def fail(text):
    print(f"mutants: FAILED: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


def baseline():
    """Runs the suites unmutated, as each mutant will run them; returns the number of tests."""
    say(f"baseline: {', '.join(TEST_PACKAGES)} unmutated (profile mutants)")
    command = ["cargo", "test", "--profile", "mutants", "--features", "predictor-router/test-util"]
    for package in TEST_PACKAGES:
        command += ["--package", package]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    output = run.stdout + run.stderr
    if run.returncode != 0:
        print(output[-4000:], file=sys.stderr)
        fail("the unmutated suites do not pass")
    passed = sum(int(n) for n in re.findall(r"test result: ok\. (\d+) passed", output))
    ran = set(re.findall(r"Running tests/(\w+)\.rs", output))
    if missing := [s for s in SUITES if s not in ran]:
        fail(f"baseline did not run {missing}")
    if passed < MIN_BASELINE_TESTS:
        fail(f"baseline ran {passed} tests, fewer than {MIN_BASELINE_TESTS}: the suites are not being run")
    say(f"baseline: {passed} tests in {len(ran)} suites and the unit tests pass")
    return passed


def equivalents():
    """The full names listed in mutants-equivalent.md."""
    text = EQUIVALENT.read_text()
    names = [m["name"] for line in text.splitlines() if (m := ENTRY.match(line))]
    mentioned = re.findall(r"`(src/[^`]+:\d+:\d+: [^`]+)`", text)
    if sorted(mentioned) != sorted(names):
        fail("mutants-equivalent.md names a mutant that does not start its own `- ` entry")
    if len(set(names)) != len(names):
        fail("mutants-equivalent.md lists a mutant twice")
    return names


def listed(extra):
    command = ["cargo", "mutants", "--config", str(CONFIG), "--list", "--json", *extra]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        fail("cargo mutants --list failed")
    return [m["name"] for m in json.loads(run.stdout)]


def rust_regex_escape(text):
    """Escapes the meta characters of Rust's regex crate (what cargo-mutants matches with)."""
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$#&-~" else c for c in text)


def without_position(name):
    return re.sub(r":\d+:\d+: ", ": ", name, count=1)


def check_equivalents(entries, names):
    """Every entry names a mutant of the code as it is: lines move when the code changes, and an entry
    that names nothing would otherwise hide whatever mutant now sits there."""
    stale = []
    for name in entries:
        if name not in names:
            same = [n for n in names if without_position(n) == without_position(name)]
            stale.append(f"{name}: no such mutant" + (f" (the same change now at: {', '.join(same)})" if same else ""))
    if stale:
        fail("mutants-equivalent.md does not match the code any more:\n  " + "\n  ".join(stale))


def suites_ran_for_every_mutant(out, baseline_tests):
    """Every mutant that built ran the native suites: a caught one failed in one of them, a missed one
    passed every test of the baseline (cargo-mutants logs cargo with --verbose: `Running `.../deps/<suite>-<hash>``)."""
    unchecked = []
    outcomes = json.loads((out / "outcomes.json").read_text())["outcomes"]
    for outcome in outcomes:
        if "Mutant" not in outcome["scenario"] or outcome["summary"] not in ("CaughtMutant", "MissedMutant"):
            continue  # the baseline, unviable mutants (no test ran) and timeouts (killed mid-run)
        log = out / outcome["log_path"]
        text = log.read_text(errors="replace")
        marker = next((l for l in text.splitlines() if l.startswith("*** ") and "cargo test --profile" in l
                       and "--no-run" not in l), None)
        if marker is None:
            unchecked.append(f"{log.name}: no test phase")
            continue
        if not all(f"--package={p}@" in marker for p in TEST_PACKAGES):
            unchecked.append(f"{log.name}: {marker}")
            continue
        test_phase = text.split(marker, 1)[1]
        ran = set(re.findall(r"Running `[^`]*/deps/(\w+)-[0-9a-f]+`", test_phase))
        failed = "test result: FAILED" in test_phase or "error: test failed" in test_phase
        passed = sum(int(n) for n in re.findall(r"test result: ok\. (\d+) passed", test_phase))
        if failed:
            continue
        if not set(SUITES) <= ran or passed != baseline_tests:
            unchecked.append(f"{log.name}: ran {sorted(ran)}, {passed} tests passed (baseline {baseline_tests})")
    if unchecked:
        fail("some mutants did not face the native suites:\n  " + "\n  ".join(unchecked[:20]))


def lines(path):
    return [l for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def main():
    extra = sys.argv[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    jobs = os.environ.get("MUTANTS_JOBS", "2")
    os.environ.setdefault("PROPTEST_RNG_SEED", PROPTEST_SEED)
    out = ROOT / "target/mutants-report"
    started = time.monotonic()

    baseline_tests = baseline()
    entries = equivalents()
    whole_core = listed([])
    check_equivalents(entries, whole_core)
    everything = listed(extra) if extra else whole_core
    excludes = [arg for name in entries for arg in ("--exclude-re", f"^{rust_regex_escape(name)}$")]
    to_test = listed(extra + excludes)
    equivalent = len(everything) - len(to_test)
    say(f"{len(everything)} mutants of src/router/; {equivalent} equivalent (mutants-equivalent.md); "
        f"testing {len(to_test)} with {jobs} jobs")

    command = ["cargo", "mutants", "--config", str(CONFIG), "--jobs", jobs, "--output", str(out),
               *excludes, *extra]
    code = subprocess.run(command, cwd=ROOT).returncode
    # 0: all caught; 2: some missed; 3: some timed out. Anything else is a failure of the run itself.
    if code not in (0, 2, 3):
        fail(f"cargo mutants exited with {code}")

    report = out / "mutants.out"
    suites_ran_for_every_mutant(report, baseline_tests)
    caught, missed = lines(report / "caught.txt"), lines(report / "missed.txt")
    timeouts, unviable = lines(report / "timeout.txt"), lines(report / "unviable.txt")
    # A timeout is noticed: the suite hangs instead of passing (an infinite loop), and the test run fails.
    detected = len(caught) + len(timeouts)
    viable = detected + len(missed) + equivalent
    score = detected / viable if viable else 0.0
    minutes = (time.monotonic() - started) / 60
    print()
    say(f"caught {len(caught)}, missed {len(missed)}, timeouts {len(timeouts)}, unviable {len(unviable)}, "
        f"equivalent {equivalent}")
    say(f"score: {detected} of {viable} viable mutants caught ({score:.1%}, caught and timeouts over "
        f"caught + timeouts + missed + equivalent); target {TARGET_SCORE:.0%}; {minutes:.1f} min")
    for name in missed:
        say(f"missed: {name}")
    say(f"report: {report} (diff/ and log/ per mutant)")
    if missed:
        fail(f"{len(missed)} mutant(s) missed: add a test that catches each, or justify it in {EQUIVALENT.name}")
    if score < TARGET_SCORE:
        fail(f"score {score:.1%} below {TARGET_SCORE:.0%}")


if __name__ == "__main__":
    main()
