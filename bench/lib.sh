# shellcheck shell=bash
# Shared by the bench scripts (sourced).

# sealcast_start BINARY DIR [SERVE ARGS…]: starts `sealcast serve` on loopback ports chosen at
# run time with its data in DIR/data and its log in DIR/log; sets server_pid and rtmp, http,
# https (host:port).
sealcast_start() {
    local bin=$1 dir=$2
    shift 2
    "$bin" serve --data-dir "$dir/data" --rtmp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
        --https-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --log warn,sealcast=info "$@" > "$dir/log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 200); do grep -q ' ready ' "$dir/log" && break; sleep 0.05; done
    grep -q ' ready ' "$dir/log" || { echo "sealcast did not start:" >&2; tail -5 "$dir/log" >&2; return 1; }
    rtmp=$(grep -o 'rtmp=[0-9.:]*' "$dir/log" | head -1 | cut -d= -f2)
    http=$(grep -o ' http=[0-9.:]*' "$dir/log" | head -1 | cut -d= -f2)
    https=$(grep -o 'https=[0-9.:]*' "$dir/log" | head -1 | cut -d= -f2)
}

# bench_setup: sets `work` to a fresh directory that is removed on exit, after the server and
# every background job are stopped. A script that starts more (the nginx anchor) defines
# `bench_teardown`, which runs first.
bench_setup() {
    work=$(mktemp -d)
    server_pid=""
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if declare -F bench_teardown >/dev/null; then bench_teardown || true; fi
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}
