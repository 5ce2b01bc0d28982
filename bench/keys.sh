#!/usr/bin/env bash
# Key delivery benchmark: envelope key requests per second and their latency, over HTTPS
# keep-alive on loopback. Each request is the whole path a player takes: the type A
# credential check, the cached KMS unwrap, HPKE sealing to the player's P-256 key and the JSON
# answer. Targets: >= 10,000 deliveries/s on 2 cores with p99 < 5 ms. For reference, the same
# run measures nginx (the peer anchor) serving its static 16-byte AES key file over HTTPS —
# what nginx-rtmp offers for keys, with no credential and no per-player sealing.
#
# Usage: bench/keys.sh [SECONDS] [CONNECTIONS]     (defaults 10 and 16)
# Needs: wrk ffmpeg openssl curl python3; nginx libnginx-mod-rtmp for the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-10}
conns=${2:-16}
for t in wrk ffmpeg openssl curl python3; do
    command -v "$t" >/dev/null || { echo "bench needs $t: apt-get install -y wrk ffmpeg openssl curl python3" >&2; exit 1; }
done
anchor_script=${ANCHOR_SCRIPT:-../shared/anchors/nginx-rtmp.sh}

cargo build --release -q -p sealcast
bin=$PWD/target/release/sealcast
bench_setup
chmod 755 "$work"
export ANCHOR_DIR="$work/anchor"
anchor=""
bench_teardown() { [ -z "$anchor" ] || bash "$anchor_script" stop; }

# The bench is one client address: lift the per-IP and per-stream limits.
cat > "$work/sealcast.toml" <<EOF
[keys]
rate_per_ip = 0
rate_per_stream = 0
EOF
sealcast_start "$bin" "$work" --config "$work/sealcast.toml"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
sc() { "$bin" "$@" --data-dir "$work/data"; }
sc cert set --domain localhost --name bench --cert "$work/cert.pem" --key "$work/key.pem" >/dev/null
sc encryption set --domain localhost --app bench --type envelope --rotation 3600 >/dev/null
sc domain set localhost aliauth auth_type=type_a auth_key1=benchKey123 ali_auth_delta=3600 >/dev/null

ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 -t 120 \
    -c:v libx264 -preset ultrafast -g 25 -f flv "$(sc sign "rtmp://$rtmp/bench/cam" --domain localhost)" 2>/dev/null &
pusher=$!
playlist_url=$(sc sign "https://$https/bench/cam.m3u8" --domain localhost)
key_path=""
for _ in $(seq 1 150); do
    key_path=$(curl -sk --max-time 2 "$playlist_url" | grep -o 'URI="[^"]*"' | head -1 | sed 's/^URI="//; s/"$//') || true
    [ -n "$key_path" ] && break
    sleep 0.1
done
[ -n "$key_path" ] || { echo "no key URI in $playlist_url" >&2; tail -5 "$work/log" >&2; exit 1; }
# The key stays deliverable after the publisher stops; the encoder would only add noise.
kill "$pusher" 2>/dev/null || true
wait "$pusher" 2>/dev/null || true

# A player's public key: P-256, uncompressed point, base64url.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/player.pem"
pk=$(openssl ec -in "$work/player.pem" -pubout -conv_form uncompressed -outform DER 2>/dev/null |
    python3 -c 'import sys,base64; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()[-65:]).decode().rstrip("="))')
cat > "$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"pk":"$pk"}'
wrk.headers["Content-Type"] = "application/json"
EOF
status=$(curl -sk -o "$work/one.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "{\"pk\":\"$pk\"}" "https://$https$key_path")
[ "$status" = 200 ] || { echo "key request failed ($status): $(cat "$work/one.json")" >&2; exit 1; }

# wrk --latency prints "99%  1.23ms"; normalise to milliseconds.
p99_ms() { awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms$/,"",v); else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}'; }
rps() { awk '/^Requests\/sec:/ {print $2}'; }
non2xx() { awk '/Non-2xx/ {print $NF}'; }

echo "== envelope key deliveries, HTTPS/1.1 keep-alive, wrk -t2 -c$conns -d${secs}s"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/post.lua" "https://$https$key_path" > "$work/wrk.txt"
r=$(rps < "$work/wrk.txt"); p=$(p99_ms < "$work/wrk.txt"); bad=$(non2xx < "$work/wrk.txt")
python3 - "$r" "$p" "${bad:-0}" <<'PY'
import sys
rps, p99, bad = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"key deliveries: {rps:,.0f}/s (target >= 10,000) {'ok' if rps >= 10000 else 'BELOW TARGET'}")
print(f"p99 latency: {p99:.2f} ms (target < 5) {'ok' if p99 < 5 else 'ABOVE TARGET'}")
if bad:
    print(f"non-2xx responses: {bad} (the run is invalid)")
    sys.exit(1)
PY

if command -v nginx >/dev/null && [ -f "$anchor_script" ] && [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then
    mkdir -p "$ANCHOR_DIR/hls" "$ANCHOR_DIR/keys"
    chmod 777 "$ANCHOR_DIR/hls" "$ANCHOR_DIR/keys"
    bash "$anchor_script" start
    anchor=1
    ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 -t 120 \
        -c:v libx264 -preset ultrafast -g 25 -f flv "rtmp://127.0.0.1:${RTMP_PORT:-19350}/live/bench" 2>/dev/null &
    ng_pusher=$!
    ng_key=""
    for _ in $(seq 1 150); do
        ng_key=$(curl -sk --max-time 2 "https://127.0.0.1:${HTTPS_PORT:-18443}/hls/bench.m3u8" |
            grep -o 'URI="[^"]*"' | head -1 | sed 's/^URI="//; s/"$//') || true
        [ -n "$ng_key" ] && break
        sleep 0.1
    done
    kill "$ng_pusher" 2>/dev/null || true
    wait "$ng_pusher" 2>/dev/null || true
    if [ -n "$ng_key" ]; then
        echo "== reference: nginx serving its static key file, wrk -t2 -c$conns -d${secs}s"
        wrk -t2 -c"$conns" -d"${secs}s" --latency "$ng_key" > "$work/wrk-ng.txt"
        nr=$(rps < "$work/wrk-ng.txt"); np=$(p99_ms < "$work/wrk-ng.txt")
        python3 - "$r" "$p" "$nr" "$np" <<'PY'
import sys
r, p, nr, np_ = map(float, sys.argv[1:])
print(f"nginx static key file: {nr:,.0f}/s, p99 {np_:.2f} ms; sealcast sealed delivery at {r / nr:.2f}x its rate (information)")
PY
    else
        echo "(reference skipped: nginx-rtmp produced no key)"
    fi
else
    echo "(reference skipped: install nginx libnginx-mod-rtmp for the nginx static-key comparison)"
fi
