#!/usr/bin/env bash
# HTTPS edge benchmarks: Sealcast against nginx + nginx-rtmp-module (the peer anchor) serving
# the same encrypted live HLS over HTTPS with the same ECDSA P-256 certificate, measured
# side by side in one run. Loopback only; every load is bounded in time or requests.
#
#   1. segment throughput, HTTPS/1.1 keep-alive (wrk)                       target >= 1.1x
#   2. small playlist requests/s, HTTPS/1.1 keep-alive (wrk)                target >= 1.0x
#   3. small playlist requests/s, HTTP/2 (h2load)                           target >= 1.0x
#   4. full TLS handshakes, no resumption (openssl s_time -new): handshakes per second of
#      server CPU (the server's capacity)                                    target >= 1.2x
#      and the raw rate, which the clients on the same machine bound (information)
#   5. (for information) a new connection per request, as wrk does it with
#      "Connection: close": handshakes with whatever resumption the client manages
#
# Usage: bench/https.sh [SECONDS]     (default 8 per measurement)
# Needs: nginx libnginx-mod-rtmp wrk nghttp2-client ffmpeg openssl python3 (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-8}
for t in nginx wrk h2load ffmpeg openssl curl python3; do
    command -v "$t" >/dev/null || {
        echo "bench needs $t: apt-get install -y nginx libnginx-mod-rtmp wrk nghttp2-client ffmpeg openssl curl python3" >&2
        exit 1
    }
done
anchor_script=${ANCHOR_SCRIPT:-../shared/anchors/nginx-rtmp.sh}
[ -x "$anchor_script" ] || [ -f "$anchor_script" ] || { echo "set ANCHOR_SCRIPT to nginx-rtmp.sh" >&2; exit 1; }

cargo build --release -q -p sealcast
bin=target/release/sealcast
bench_setup
export ANCHOR_DIR="$work/anchor"
bench_teardown() { bash "$anchor_script" stop; }
# nginx runs its workers as an unprivileged user (nobody when started as root): they must reach
# the anchor directory and write the HLS segments and keys nginx-rtmp produces.
chmod 755 "$work"
mkdir -p "$ANCHOR_DIR/hls" "$ANCHOR_DIR/keys"
chmod 777 "$ANCHOR_DIR/hls" "$ANCHOR_DIR/keys"

echo "== fixture: 3 Mbps H.264 + AAC, 1 s GOP (2 s segments of about 750 KB)"
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440 \
    -t 20 -c:v libx264 -preset ultrafast -b:v 3M -maxrate 3M -bufsize 3M -g 25 -c:a aac -b:a 96k "$work/src.flv"

echo "== starting nginx-rtmp (anchor) and Sealcast"
bash "$anchor_script" start
cert="$ANCHOR_DIR/tls/cert.pem"
key="$ANCHOR_DIR/tls/key.pem"
ng_https=${HTTPS_PORT:-18443}
ng_rtmp=${RTMP_PORT:-19350}

sealcast_start "$bin" "$work"
sc_rtmp=$rtmp
sc_https=$https
# The same certificate as the anchor, on the default domain (localhost): requests without SNI
# or for 127.0.0.1 are served by it, as nginx's single server block serves them.
"$bin" cert set --data-dir "$work/data" --domain localhost --name bench --cert "$cert" --key "$key" >/dev/null
for _ in $(seq 1 100); do
    echo | timeout 5 openssl s_client -connect "$sc_https" 2>/dev/null | grep -q 'CN *= *live.example.test' && break
    sleep 0.1
done

# Both get the same live stream for the whole run.
ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$work/src.flv" -c copy -f flv \
    "rtmp://127.0.0.1:$ng_rtmp/live/bench" &
ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$work/src.flv" -c copy -f flv \
    "rtmp://$sc_rtmp/live/bench" &

ng_base="https://127.0.0.1:$ng_https/hls"
sc_base="https://$sc_https/live"
wait_segments() { # URL of a playlist; waits for 3 segments
    for _ in $(seq 1 300); do
        [ "$(curl -sk --max-time 2 "$1" | grep -c '\.ts')" -ge 3 ] && return 0
        sleep 0.1
    done
    echo "no segments at $1 after 30 s" >&2
    [ -f "$ANCHOR_DIR/logs/error.log" ] && tail -5 "$ANCHOR_DIR/logs/error.log" >&2
    tail -5 "$work/log" >&2
    exit 1
}
wait_segments "$ng_base/bench.m3u8"
wait_segments "$sc_base/bench.m3u8"
# The newest segment stays listed (and served) for a whole playlist window (12 s on both).
newest() { curl -sk --max-time 5 "$1/bench.m3u8" | grep '\.ts' | tail -1; }

ratio() { # name ours theirs target unit
    python3 - "$@" <<'PY'
import sys
name, ours, theirs, target, unit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
r = ours / theirs if theirs else float("inf")
ok = "ok" if r >= target else "BELOW TARGET"
print(f"{name}: sealcast {ours:,.0f} {unit}, nginx {theirs:,.0f} {unit}, ratio {r:.2f}x (target >= {target}x) {ok}")
PY
}
# wrk prints "Requests/sec:" and "Transfer/sec:"; h2load "finished in ..., N req/s, X MB/s".
wrk_rps() { awk '/^Requests\/sec:/ {print $2}'; }
wrk_bytes() {
    awk '/^Transfer\/sec:/ {v=$2; m=1; if (v ~ /GB$/) m=1e9; else if (v ~ /MB$/) m=1e6; else if (v ~ /KB$/) m=1e3;
        sub(/[KMG]?B$/, "", v); print v*m}'
}
h2_rps() { awk '/^finished in/ {for (i=1;i<=NF;i++) if ($(i+1) ~ /^req\/s/) {gsub(",","",$i); print $i}}'; }

# Alternate which server goes first so drift in the machine's load does not favour one.
echo "== 1. segment throughput, HTTPS/1.1 keep-alive, wrk -t2 -c64 -d${secs}s"
seg_sc=$(newest "$sc_base"); seg_ng=$(newest "$ng_base")
sc_size=$(curl -sk "$sc_base/$seg_sc" | wc -c); ng_size=$(curl -sk "$ng_base/$seg_ng" | wc -c)
echo "segments: sealcast $seg_sc ($sc_size bytes), nginx $seg_ng ($ng_size bytes)"
t_ng=$(wrk -t2 -c64 -d"${secs}s" "$ng_base/$seg_ng" | wrk_bytes)
t_sc=$(wrk -t2 -c64 -d"${secs}s" "$sc_base/$seg_sc" | wrk_bytes)
ratio "segment throughput" "$(python3 -c "print($t_sc/1e6)")" "$(python3 -c "print($t_ng/1e6)")" 1.1 MB/s

echo "== 2. playlist requests/s, HTTPS/1.1 keep-alive, wrk -t2 -c64 -d${secs}s"
p_sc=$(wrk -t2 -c64 -d"${secs}s" "$sc_base/bench.m3u8" | wrk_rps)
p_ng=$(wrk -t2 -c64 -d"${secs}s" "$ng_base/bench.m3u8" | wrk_rps)
ratio "playlist HTTP/1.1" "$p_sc" "$p_ng" 1.0 req/s

echo "== 3. playlist requests/s, HTTP/2, h2load -c64 -m10 -D${secs}"
h_ng=$(h2load -c64 -m10 -t2 -D"$secs" "$ng_base/bench.m3u8" 2>/dev/null | h2_rps)
h_sc=$(h2load -c64 -m10 -t2 -D"$secs" "$sc_base/bench.m3u8" 2>/dev/null | h2_rps)
ratio "playlist HTTP/2" "$h_sc" "$h_ng" 1.0 req/s

echo "== 4. full TLS handshakes (TLS 1.3, ECDSA P-256, X25519), 4 x openssl s_time -new for ${secs}s"
# On one small machine the openssl clients cost more CPU per handshake than either server
# (they verify the ECDSA signature), so the raw rate is bound by the clients and says little
# about the servers. The server's capacity is its handshakes per CPU-second it spent: the rate
# it would reach with the client elsewhere. Both are printed; the target applies to capacity.
cpu_ticks() { # pids -> utime+stime in clock ticks
    local t=0 p f
    for p in "$@"; do
        f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${f% *} + ${f#* }))
    done
    echo "$t"
}
hz=$(getconf CLK_TCK)
s_time() { # host:port pids... -> "handshakes/s handshakes-per-server-cpu-second"
    local target=$1 pids=() before after
    shift
    before=$(cpu_ticks "$@")
    for i in 1 2 3 4; do
        openssl s_time -connect "$target" -new -time "$secs" > "$work/s_time.$i" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    after=$(cpu_ticks "$@")
    cat "$work"/s_time.[1-4] | awk -v secs="$secs" -v cpu="$(( after - before ))" -v hz="$hz" \
        '/connections in .*real seconds/ {n+=$1} END {printf "%f %f\n", n/secs, (cpu > 0 ? n/(cpu/hz) : 0)}'
}
ng_master=$(cat "$ANCHOR_DIR/nginx.pid")
ng_pids="$ng_master $(pgrep -P "$ng_master" -d ' ' || true)"
read -r f_sc c_sc <<<"$(s_time "$sc_https" "$server_pid")"
# shellcheck disable=SC2086 # a list of pids
read -r f_ng c_ng <<<"$(s_time "127.0.0.1:$ng_https" $ng_pids)"
ratio "full handshakes per server CPU-second" "$c_sc" "$c_ng" 1.2 handshakes/cpu-s
ratio "full handshakes/s, client-bound (information)" "$f_sc" "$f_ng" 1.0 handshakes/s

echo "== 5. new connection per request, wrk -t2 -c32 -d${secs}s -H 'Connection: close' (information)"
c_ng=$(wrk -t2 -c32 -d"${secs}s" -H 'Connection: close' "$ng_base/bench.m3u8" | wrk_rps)
c_sc=$(wrk -t2 -c32 -d"${secs}s" -H 'Connection: close' "$sc_base/bench.m3u8" | wrk_rps)
ratio "connection per request" "$c_sc" "$c_ng" 1.0 req/s
