#!/usr/bin/env bash
# CPU per completed call, answerpoint vs Kamailio, on the same SIPp load (issue 7,
# docs/DESIGN.md §7 "efficiency"). A SIPp carrier UAC places full emergency calls
# (sipp/carrier-999-pidf.xml: INVITE urn:service:sos + PIDF-LO, answer, TALK_MS of talk,
# BYE) at RATE calls/s for DURATION_S s, through
#   1. the engine (target/release/answerpoint, SEATS static seats → one SIPp handler UAS), then
#   2. Kamailio as a stateful proxy (load-scripts/kamailio.cfg → the same SIPp handler UAS),
# and reports for each: requested, placed, completed, failed and unfinished calls (SIPp's
# counts; unfinished = requested - completed - failed: never placed, or placed and never
# ended), the rate SIPp actually achieved (placed calls / SIPp's run time, which includes
# the last calls' talk time, so slightly below RATE on a healthy run), and the server's
# CPU time (user + system, all its processes, from /proc/<pid>/stat) per completed call,
# then the ratio engine / Kamailio.
#
# A target with any failed or unfinished call is a FAILED run: its line says so, and the
# script exits 1 after all targets ran (an overloaded machine gives a CPU figure for a
# different load than asked for, so it must not pass silently).
#
# Usage: load-scripts/cpu-per-call.sh [RATE=500] [DURATION_S=60] [TARGETS="engine kamailio"]
# Env:   ANSWERPOINT_BIN (default target/release/answerpoint), TALK_MS=1000, THINK_MS=100,
#        OUT (result dir, default a new /tmp/cpu-per-call.*), SEATS.
# Needs: sipp (Debian sip-tester), kamailio (Debian kamailio), a release build.
set -euo pipefail

RATE=${1:-500}
DURATION_S=${2:-60}
TARGETS=${3:-"engine kamailio"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${ANSWERPOINT_BIN:-$ROOT/target/release/answerpoint}
TALK_MS=${TALK_MS:-1000}
THINK_MS=${THINK_MS:-100}
SEATS=${SEATS:-$(( RATE * (TALK_MS + THINK_MS) * 2 / 1000 + 100 ))}
OUT=${OUT:-$(mktemp -d /tmp/cpu-per-call.XXXXXX)}
CALLS=$(( RATE * DURATION_S ))
UAS_PORT=${UAS_PORT:-15090}
UAC_PORT=${UAC_PORT:-15070}
SERVER_PORT=${SERVER_PORT:-15064}
mkdir -p "$OUT"

# CPU ticks (utime + stime, USER_HZ) of the given pids.
ticks() {
    local sum=0 t
    for p in "$@"; do
        t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
        sum=$(( sum + t ))
    done
    echo "$sum"
}
hz=$(getconf CLK_TCK)

PIDS=()
FAILED_RUNS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

run_one() {
    local target=$1 server_pids=() main
    local dir="$OUT/$target"
    mkdir -p "$dir"
    sipp -sf "$HERE/sipp/handler-uas.xml" -i 127.0.0.1 -p "$UAS_PORT" -mp 16000 -t u1 \
        -d "$THINK_MS" -nostdin -trace_err -error_file "$dir/uas_errors.log" \
        >"$dir/uas.out" 2>&1 &
    local uas=$!
    PIDS+=("$uas")
    case $target in
    engine)
        {
            printf '[sip]\nlisten = ["udp:127.0.0.1:%s"]\ncarriers = ["127.0.0.0/8"]\n' "$SERVER_PORT"
            printf '[http]\nlisten = "127.0.0.1:0"\n'
            printf '[limits]\nmax_transactions = 1000000\n'
            printf '[queue]\nmax_consecutive_misses = 0\nwrap_up_s = { emergency = 0, non-emergency = 0, admin = 0 }\n'
            for i in $(seq 1 "$SEATS"); do
                printf '[[seats]]\nid = "s%d"\ncontact = "sip:s%d@127.0.0.1:%s"\nskills = ["emergency", "non-emergency"]\n' "$i" "$i" "$UAS_PORT"
            done
        } >"$dir/engine.toml"
        RUST_LOG=warn "$BIN" run --config "$dir/engine.toml" >"$dir/server.out" 2>"$dir/server.log" &
        main=$!
        PIDS+=("$main")
        ;;
    kamailio)
        kamailio -f "$HERE/kamailio.cfg" -DD -E -m 256 -M 32 \
            -A "LISTEN=udp:127.0.0.1:$SERVER_PORT" -A "HANDLER=\"sip:127.0.0.1:$UAS_PORT\"" \
            >"$dir/server.out" 2>"$dir/server.log" &
        main=$!
        PIDS+=("$main")
        ;;
    esac
    sleep 2
    server_pids=("$main" $(pgrep -P "$main" || true))
    local t0 c0
    t0=$(date +%s.%N)
    c0=$(ticks "${server_pids[@]}")
    local s0 s1
    s0=$(date +%s.%N)
    sipp -sf "$HERE/sipp/carrier-999-pidf.xml" -i 127.0.0.1 -p "$UAC_PORT" -mp 17000 -t u1 \
        -r "$RATE" -m "$CALLS" -d "$TALK_MS" -l $(( RATE * 4 )) -nostdin \
        -timeout $(( DURATION_S + 60 ))s -timeout_error \
        -trace_stat -stf "$dir/uac_stats.csv" -fd 5 \
        -trace_err -error_file "$dir/uac_errors.log" \
        "127.0.0.1:$SERVER_PORT" >"$dir/uac.out" 2>&1 || true
    s1=$(date +%s.%N)
    local c1 t1
    server_pids=("$main" $(pgrep -P "$main" || true))
    c1=$(ticks "${server_pids[@]}")
    t1=$(date +%s.%N)
    # SIPp's cumulative counters from the last line of its statistics file (0 when SIPp
    # wrote none: then every requested call counts as unfinished).
    local ok fail created unfinished achieved verdict
    col() {
        [[ -s "$dir/uac_stats.csv" ]] || { echo 0; return; }
        awk -F';' -v name="$1" 'NR==1 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
            END { v = (c ? $c : 0) + 0; print v }' "$dir/uac_stats.csv"
    }
    ok=$(col "SuccessfulCall(C)")
    fail=$(col "FailedCall(C)")
    created=$(col "TotalCallCreated")
    unfinished=$(( CALLS - ok - fail ))
    (( unfinished < 0 )) && unfinished=0
    achieved=$(awk -v n="$created" -v a="$s0" -v b="$s1" 'BEGIN { if (b > a) printf "%.1f", n / (b - a); else print "nan" }')
    verdict=ok
    if (( fail > 0 || unfinished > 0 )); then
        verdict=FAILED
        FAILED_RUNS+=("$target")
    fi
    local cpu_s per_call
    cpu_s=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
    per_call=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$ok" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "nan" }')
    echo "$target $verdict rate=$RATE/s achieved_rate=${achieved}/s duration=${DURATION_S}s calls=$CALLS placed=$created completed=$ok failed=$fail unfinished=$unfinished cpu=${cpu_s}s cpu_per_completed_call_us=$per_call wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s" | tee "$dir/result.txt"
    kill "$main" "$uas" 2>/dev/null || true
    wait "$main" "$uas" 2>/dev/null || true
    sleep 1
}

for t in $TARGETS; do
    run_one "$t"
done
if [[ -f "$OUT/engine/result.txt" && -f "$OUT/kamailio/result.txt" ]]; then
    e=$(sed -n 's/.*cpu_per_completed_call_us=\([0-9.na]*\).*/\1/p' "$OUT/engine/result.txt")
    k=$(sed -n 's/.*cpu_per_completed_call_us=\([0-9.na]*\).*/\1/p' "$OUT/kamailio/result.txt")
    awk -v e="$e" -v k="$k" 'BEGIN { if (k > 0) printf "ratio engine/kamailio CPU per completed call = %.2f (target <= 1.0)\n", e / k }' | tee "$OUT/ratio.txt"
fi
echo "results in $OUT"
if (( ${#FAILED_RUNS[@]} > 0 )); then
    echo "FAILED: ${FAILED_RUNS[*]} had failed or unfinished calls; the CPU figures are not for the requested load" >&2
    exit 1
fi
