#!/usr/bin/env bash
# HTTP-FLV fan-out: many viewers of one 1 Mbps stream on loopback. Reports the server's CPU
# per viewer as viewers per core, and its memory per viewer (RSS growth / viewers; target
# <= 64 KB). The reference is SRS's published figure for HTTP-FLV: 6,000 viewers at 84 % of
# one core (about 7,100 viewers per core) — published, not measured here. Clear FLV is the
# comparable case; encrypted FLV (per-viewer AES-128-CTR) is measured too.
#
# Usage: bench/flv.sh [VIEWERS] [SECONDS]        (defaults 1000 and 20)
# Needs: ffmpeg python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
viewers=${1:-1000}
secs=${2:-20}
for t in ffmpeg python3; do
    command -v "$t" >/dev/null || { echo "bench needs $t: apt-get install -y $t" >&2; exit 1; }
done
ulimit -n $(( viewers * 2 + 1024 )) 2>/dev/null || {
    echo "cannot raise the open-file limit to $(( viewers * 2 + 1024 )); run fewer viewers" >&2
    exit 1
}
cargo build --release -q -p sealcast -p sealcast-bench
bin=$PWD/target/release
bench_setup

echo "== fixture: 1 Mbps H.264 + AAC, 1 s GOP"
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440 \
    -t 30 -c:v libx264 -preset veryfast -b:v 900k -maxrate 900k -bufsize 900k -g 25 -c:a aac -b:a 96k "$work/src.flv"

start_server() { # each case on a fresh process, so its memory growth is its own
    rm -rf "$work/data"
    sealcast_start "$bin/sealcast" "$work"
    "$bin/sealcast" encryption set --data-dir "$work/data" --domain localhost --app open --type none >/dev/null
}
stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
hz=$(getconf CLK_TCK)

measure() { # app label
    local app=$1 label=$2
    start_server
    ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$work/src.flv" -c copy -f flv "rtmp://$rtmp/$app/s" &
    local pusher=$!
    sleep 4
    # The stream alone (ingest, HLS packaging) over 5 s: subtracted from the viewers' run.
    local c0 r0 c1 r1 peak
    c0=$(cpu_ticks); sleep 5; c1=$(cpu_ticks)
    local base_per_s
    base_per_s=$(python3 -c "print(($c1 - $c0) / 5)")
    r0=$(rss_kb)
    c0=$(cpu_ticks)
    "$bin/sealcast-bench" flv-viewers "$http" "$app/s.flv" "$viewers" "$secs" > "$work/viewers.txt" &
    local client=$!
    peak=$r0
    while kill -0 "$client" 2>/dev/null; do
        r1=$(rss_kb); [ "$r1" -gt "$peak" ] && peak=$r1
        sleep 0.5
    done
    c1=$(cpu_ticks)
    kill "$pusher" 2>/dev/null || true
    wait "$pusher" 2>/dev/null || true
    local connected kept kbps
    connected=$(sed -n 's/^connected=//p' "$work/viewers.txt")
    kept=$(sed -n 's/^kept_pace=//p' "$work/viewers.txt")
    kbps=$(sed -n 's/^median_kbps=//p' "$work/viewers.txt")
    python3 - "$label" "$viewers" "$connected" "$kept" "$kbps" "$c0" "$c1" "$hz" "$secs" "$base_per_s" "$r0" "$peak" <<'PY'
import sys
label, n, connected, kept, kbps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c0, c1, hz, secs, base, r0, peak = map(float, sys.argv[6:])
cores = max((c1 - c0) / hz / secs - base / hz, 1e-9)
per_core = connected / cores
rss_per = (peak - r0) * 1024 / max(connected, 1)
srs = 6000 / 0.84
print(f"{label}: {connected}/{n} viewers connected, {kept} kept pace at {kbps} kbit/s median")
print(f"  server CPU for the viewers: {cores * 100:.0f} % of a core -> {per_core:,.0f} viewers per core"
      f" (SRS published: {srs:,.0f}; ratio {per_core / srs:.2f}x)")
print(f"  memory: {rss_per / 1024:.1f} KB RSS per viewer (target <= 64 KB) {'ok' if rss_per <= 64 * 1024 else 'ABOVE TARGET'}")
PY
    stop_server
}

echo "== clear HTTP-FLV, $viewers viewers for ${secs}s"
measure open "clear FLV"
echo "== encrypted HTTP-FLV (AES-128-CTR per viewer), $viewers viewers for ${secs}s"
measure live "encrypted FLV"
