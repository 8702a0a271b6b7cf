#!/bin/sh
# fuzz/run.sh — build frc's libFuzzer target (fuzz_frc.c + compiler/*.c
# but the executable's own) with clang, ASan and UBSan in a separate directory, and run
# it for a given time on the seed corpus (main.c and check_native.c are the
# frc executable's own, not the library the target links).
#
#   fuzz/run.sh [SECONDS] [BUILD_DIR]      (make fuzz FUZZ_SECONDS=600)
#
# Prints the executions, the execution rate and the crashes/hangs found.
# Exit: 0 no crash, 1 a crash, hang (timeout), leak or broken promise (the
# input is in BUILD_DIR/artifacts/; copy it to fuzz/regressions/ once fixed),
# 3 clang or libFuzzer missing (a SKIP line names the Debian packages),
# 130 interrupted (SIGINT/SIGTERM; the figures so far are printed).
# The corpus grows in BUILD_DIR/corpus and is reused by the next run.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-300}
dir=${2:-build-fuzz}
CC=${FUZZ_CC:-clang}
pkgs="clang libclang-rt-14-dev"

mkdir -p "$dir/seeds" "$dir/corpus" "$dir/artifacts"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }\n' \
    > "$dir/probe.c"
if ! command -v "$CC" >/dev/null 2>&1 ||
   ! "$CC" -fsanitize=fuzzer,address "$dir/probe.c" -o "$dir/probe" >/dev/null 2>&1; then
    echo "SKIP fuzz: $CC with libFuzzer (-fsanitize=fuzzer) is not available; apt-get install -y $pkgs"
    exit 3
fi

srcs=$(ls compiler/*.c | grep -v -e '/main\.c$' -e '/check_native\.c$')   # the executable's own: main.c, frc check
# shellcheck disable=SC2086
"$CC" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -std=gnu11 \
    $srcs fuzz/fuzz_frc.c -o "$dir/fuzz_frc"

# Seeds: the fixtures, the reject fixtures, frc's test inputs, the regressions.
for f in fixtures/*.frs fixtures/c/*.frs fixtures/reject/*.frs fixtures/reject/c/*.frs compiler/tests/*/*.frs fuzz/regressions/*; do
    [ -f "$f" ] && cp "$f" "$dir/seeds/$(echo "$f" | tr / _)"
done

log="$dir/fuzz.log"
echo "fuzz: running $dir/fuzz_frc for ${seconds}s (log: $log)"
rc=0
t0=$(date +%s)
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
"$dir/fuzz_frc" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -dict=fuzz/frc.dict -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" "$dir/seeds" >"$log" 2>&1 || rc=$?

elapsed=$(( $(date +%s) - t0 ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
crashes=$(grep -E '^==[0-9]+==.*ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|broken promise' "$log" |
    grep -c -v 'libFuzzer: timeout' || true)
hangs=$(grep -c 'libFuzzer: timeout' "$log" || true)
slowest=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -1)
echo "fuzz: ${execs:-?} executions in ${elapsed}s (${secs:-?} exec/s, slowest input ${slowest:-?}s), corpus $(ls "$dir/corpus" | wc -l) inputs"
if [ "$rc" -eq 72 ] && [ "$crashes" -eq 0 ]; then
    echo "fuzz: interrupted — crashes: 0, hangs: 0 so far"
    exit 130
fi
if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|runtime error|broken promise|ALARM|Test unit written' "$log" | head -20
    echo "fuzz: FAIL — crashes: $crashes, hangs: $hangs (exit $rc); inputs in $dir/artifacts/"
    exit 1
fi
echo "fuzz: ok — crashes: 0, hangs: 0"
