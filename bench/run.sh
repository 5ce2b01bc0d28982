#!/usr/bin/env bash
# Sealcast spine benchmarks. Prints ratios against references measured in the same run on the
# same machine; absolute numbers on shared machines drift. Loopback only; every loop is bounded.
#
#   1. segment encryption throughput vs `openssl speed -evp aes-128-cbc`   (target >= 0.9x)
#   2. publish -> first encrypted segment available vs segment duration + 50 ms (target <= 1.0x)
#   3. server CPU per 3 Mbps stream (ingest + remux + encrypt) -> streams on 2 cores (target >= 500)
#
# Usage: bench/run.sh [STREAMS] [SECONDS]      (defaults: 16 streams for 20 s in part 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
streams=${1:-16}
seconds=${2:-20}
for t in ffmpeg openssl curl python3; do
    command -v "$t" >/dev/null || { echo "bench needs $t (apt-get install $t)" >&2; exit 1; }
done
cargo build --release -q -p sealcast -p sealcast-bench
bin=target/release
bench_setup

echo "== 1. segment encryption throughput (one core, 16 KiB blocks for openssl, 1 MiB segments for Sealcast)"
ossl=$(openssl speed -evp aes-128-cbc -bytes 16384 -seconds 3 2>/dev/null | awk '/^aes-128-cbc|^AES-128-CBC/ {v=$NF} END {sub("k","",v); print v/1000}')
ours=$("$bin/sealcast-bench" encrypt 3 1048576 | sed 's/.*=//')
python3 -c "o=$ossl; s=$ours; print(f'openssl {o:.0f} MB/s, sealcast {s:.0f} MB/s, ratio {s/o:.2f}x (target >= 0.9x)')"

echo "== fixture: 3 Mbps H.264 + AAC FLV, 1 s GOP"
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440 \
    -t 30 -c:v libx264 -preset ultrafast -b:v 3M -maxrate 3M -bufsize 3M -g 25 -c:a aac -b:a 96k "$work/src.flv"

start_server() {
    sealcast_start "$bin/sealcast" "$work"
}
start_server

echo "== 2. publish -> first encrypted segment (segment duration 2 s)"
ffmpeg -hide_banner -loglevel error -re -i "$work/src.flv" -c copy -t 6 -f flv "rtmp://$rtmp/live/latency" &
pusher=$!
t1=""
for _ in $(seq 1 2000); do
    if curl -sf "http://$http/live/latency.m3u8" | grep -q '\.ts'; then t1=$(date -u +%s.%N); break; fi
    sleep 0.002
done
[ -n "$t1" ] || { echo "no segment appeared"; exit 1; }
# From the server's own 'publish started' log timestamp (RFC 3339, UTC) to the first listed segment.
t0=$(grep 'publish started' "$work/log" | grep 'live/latency' | head -1 | awk '{print $1}')
python3 - "$t0" "$t1" <<'PY'
import sys, datetime
t0 = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()
d = float(sys.argv[2]) - t0
print(f"first segment listed {d*1000:.0f} ms after publish started; ratio to 2050 ms: {d/2.05:.2f}x (target <= 1.0x)")
PY
wait "$pusher"

echo "== 3. server CPU per 3 Mbps stream: $streams streams for $seconds s"
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$server_pid/stat"; }
pushers=()
for i in $(seq 1 "$streams"); do
    ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$work/src.flv" -c copy -t $((seconds + 4)) \
        -f flv "rtmp://$rtmp/live/load$i" &
    pushers+=($!)
done
sleep 3
c0=$(cpu); w0=$(date +%s.%N)
sleep "$seconds"
c1=$(cpu); w1=$(date +%s.%N)
wait "${pushers[@]}"
live=$(grep -c 'publish started' "$work/log" || true)
python3 - "$c0" "$c1" "$w0" "$w1" "$ticks" "$streams" "$live" <<'PY'
import sys
c0, c1, w0, w1, ticks, n, live = (float(x) for x in sys.argv[1:])
core_per_stream = (c1 - c0) / ticks / (w1 - w0) / n
print(f"{int(live)} publishes seen; server CPU {core_per_stream*100:.3f}% of a core per stream")
print(f"projected streams on 2 cores: {2/core_per_stream:.0f} (target >= 500)")
PY
