#!/usr/bin/env bash
# bench/run.sh — trayphone's numbers in one run:
#   1. Go benchmarks: codecs per 20 ms frame, jitter buffer, mixer at 1 and 18 channels, one RTP
#      packet through send and receive (allocations included);
#   2. trayphone↔trayphone against baresip↔baresip (PCMU, file audio, same duration, the two
#      taking turns for ROUNDS rounds): CPU per call, context switches, memory, RTP
#      send-interval jitter p50/p99/max, side by side as ratios;
#   3. the same once more with every core kept busy by a spinning loop (send jitter under load);
#   4. send timing from each call's first packet, 10 s calls, quiet and with every core busy,
#      trayphone against baresip (FIRST_SECONDS, default 10);
#   5. mouth-to-ear latency of trayphone's pipeline on loopback;
#   6. mouth-to-ear through the sound server (a private PipeWire, PortAudio / baresip's alsa
#      module through the ALSA pulse plugin), trayphone against baresip (M2E_SECONDS, default 10);
#   7. what a listener hears: a tone each way, judged over the whole call (SINAD, clicks, gaps,
#      peak), per codec, trayphone ↔ trayphone, baresip ↔ baresip and both mixed ways, on a clean
#      link and under 1-20 % random loss (QUALITY_SECONDS per call, default 8).
#   8. trayphone as a voice application server: N concurrent PCMU calls (APP_COUNTS, default
#      5,10,20,40) into examples/auto-attendant on a trayphone --app-server, each caller's whole
#      recording judged, the server's RTP send p99 and CPU per call (APP_SECONDS, default 10).
# Usage: bench/run.sh [SECONDS [ROUNDS]]   (default 60 s, 3 rounds; the loaded comparison is one
# round of SECONDS/2. Needs baresip and tshark, see scripts/setup.sh; tshark captures on lo, so
# run as root or with the capture capability. As root trayphone also gets real-time scheduling
# during calls, as a user in the audio group would.)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
rounds="${2:-3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== trayphone benchmarks — $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== Go benchmarks (ns per op; allocs per op)"
go test -run '^$' -bench 'Frame|Mix|JitterBuffer|Session|Processing|ToneGenerator' -benchmem -count 1 ./media \
  | grep -E '^Benchmark' | awk '{printf "%-48s %12s ns/op %6s allocs/op\n", $1, $3, $(NF-1)}'
echo
compare() { # compare SECONDS ROUNDS LOAD OUTFILE
  TRAYPHONE_BENCH=1 TRAYPHONE_BENCH_SECONDS="$1" TRAYPHONE_BENCH_ROUNDS="$2" TRAYPHONE_BENCH_LOAD="$3" \
    TRAYPHONE_BENCH_OUT="$4" go test ./bench -run 'TestCompare' -count 1 -timeout "$(($1 * $2 * 3 + 180))s" >"$out/test.log" 2>&1 \
    || { cat "$out/test.log"; exit 1; }
  cat "$4"
}
echo "== trayphone vs baresip, ${secs}s PCMU calls, ${rounds} rounds taking turns"
compare "$secs" "$rounds" 0 "$out/compare.md"
echo
half=$(((secs + 1) / 2))
echo "== the same with every core busy ($(nproc) spinning loops), ${half}s, 1 round"
compare "$half" 1 "$(nproc)" "$out/loaded.md"
echo
first="${FIRST_SECONDS:-10}"
echo "== send timing from the first packet: ${first}s calls, ${rounds} rounds, quiet and with every core busy"
TRAYPHONE_BENCH=1 TRAYPHONE_BENCH_ROUNDS="$rounds" TRAYPHONE_BENCH_FIRST_SECONDS="$first" TRAYPHONE_BENCH_FIRST_OUT="$out/first.md" \
  go test ./bench -run 'TestFirstPacketTiming' -count 1 -timeout "$((first * rounds * 8 + 300))s" >"$out/test.log" 2>&1 \
  || { cat "$out/test.log"; exit 1; }
cat "$out/first.md"
echo
TRAYPHONE_BENCH=1 TRAYPHONE_BENCH_LATENCY_OUT="$out/latency.txt" go test ./bench -run '^TestMouthToEar$' -count 1 >"$out/test.log" 2>&1 \
  || { cat "$out/test.log"; exit 1; }
cat "$out/latency.txt"
echo
m2e="${M2E_SECONDS:-10}"
echo "== mouth-to-ear through the sound server: ${m2e}s calls, ${rounds} rounds"
TRAYPHONE_BENCH=1 TRAYPHONE_BENCH_ROUNDS="$rounds" TRAYPHONE_BENCH_M2E_SECONDS="$m2e" TRAYPHONE_BENCH_M2E_OUT="$out/m2e.md" \
  go test ./bench -run 'TestMouthToEarSoundServer' -count 1 -timeout "$((m2e * rounds * 4 + 300))s" >"$out/test.log" 2>&1 \
  || { cat "$out/test.log"; exit 1; }
cat "$out/m2e.md"
echo
quality="${QUALITY_SECONDS:-8}"
echo "== what a listener hears: ${quality}s calls per codec and link"
TRAYPHONE_BENCH=1 TRAYPHONE_BENCH_QUALITY_SECONDS="$quality" TRAYPHONE_BENCH_QUALITY_OUT="$out/quality.md" \
  go test ./bench -run 'TestAudioQuality' -count 1 -timeout "$((quality * 40 + 600))s" >"$out/test.log" 2>&1 \
  || { cat "$out/test.log"; exit 1; }
cat "$out/quality.md"
echo
app="${APP_SECONDS:-10}"
counts="${APP_COUNTS:-5,10,20,40}"
echo "== application server: concurrent PCMU calls into examples/auto-attendant (calls of ${app}s; counts ${counts})"
TRAYPHONE_BENCH=1 TRAYPHONE_BENCH_APP_SECONDS="$app" TRAYPHONE_BENCH_APP_COUNTS="$counts" TRAYPHONE_BENCH_APP_OUT="$out/app.md" \
  go test ./bench -run 'TestAppServer' -count 1 -timeout 1800s >"$out/test.log" 2>&1 \
  || { cat "$out/test.log"; exit 1; }
cat "$out/app.md"
