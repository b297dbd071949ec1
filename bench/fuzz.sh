#!/usr/bin/env bash
# Opt-in fuzzing run (needs a nightly toolchain; not part of the test command):
#   bench/fuzz.sh [seconds-per-target] [target...]
# Installs cargo-fuzz if missing, builds the targets in fuzz/ (no sanitizer: the crate
# forbids unsafe code, and coverage-guided speed matters more here), runs each target
# for the given time (default 60 s) one after the other, and prints per target the
# executions, wall and CPU time, final coverage (libFuzzer's cov/ft), the size of the
# corpus it ended with, and any crash. New inputs go to fuzz/target/corpus/<target>/
# (the committed corpus fuzz/corpus/<target>/ is only read); crashes land in
# fuzz/artifacts/<target>/. To keep a new corpus: cargo +nightly fuzz cmin, then prune.
# FUZZ_KEEP_GOING=1 runs libFuzzer in fork mode and goes on past crashes (a known
# finding, e.g. one another branch fixes, would otherwise end the run in seconds).
set -euo pipefail

SECONDS_PER_TARGET="${1:-60}"
shift || true
cd "$(dirname "$0")/../fuzz"

ALL=(ipp_request ipp_client_response analyse_pdf analyse_pcl analyse_postscript analyse_raster multipart_upload snmp_record)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")

max_len() {
  case "$1" in
    analyse_pdf|analyse_pcl|analyse_raster) echo 32768 ;;
    snmp_record) echo 4096 ;;
    *) echo 16384 ;;
  esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  nice -n 15 cargo install cargo-fuzz
fi
for t in "${TARGETS[@]}"; do
  nice -n 15 cargo +nightly fuzz build -s none "$t" 2>&1 | tail -n 2 >&2
done

printf '%-22s %12s %8s %8s %7s %7s %6s %s\n' target execs wall_s cpu_s cov ft corpus crashes
for t in "${TARGETS[@]}"; do
  work="target/corpus/$t"
  mkdir -p "$work" "artifacts/$t"
  log="target/fuzz-$t.log"
  before=$(ls "artifacts/$t" | wc -l)
  start=$(date +%s.%N)
  set +e
  keep_going=()
  [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1)
  ( TIMEFORMAT='%U %S'; time nice -n 15 cargo +nightly fuzz run -s none "$t" "$work" "corpus/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$t")" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${keep_going[@]}" ) >"$log" 2>&1
  set -e
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  cpu=$(tail -n 1 "$log" | awk '{printf "%.1f", $1 + $2}')
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  [ -z "$execs" ] && execs=$(echo "$last" | grep -oE '^#[0-9]+' | tr -d '#')
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)
  corpus=$(ls "$work" | wc -l)
  crashes=$(( $(ls "artifacts/$t" | wc -l) - before ))
  printf '%-22s %12s %8.0f %8s %7s %7s %6s %s\n' "$t" "${execs:-?}" "$wall" "$cpu" "${cov:-?}" "${ft:-?}" "$corpus" "$crashes"
done
