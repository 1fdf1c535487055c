# Shared by the benchmark scripts (sourced, not run): builds the release server and
# bots, starts one server with load-test limits on random loopback ports and stops it
# (and removes its data) when the script exits.
#
#   source benches/lib.sh
#   start_server [more tavern-server flags]   # sets $server (pid), $url, $data
#   rss                                        # the server's resident memory in bytes
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tavern-target}
cargo build --release --quiet -p tavern-server -p tavern-client --no-default-features \
    --bin tavern-server --bin tavern-bots >&2
bin=$CARGO_TARGET_DIR/release

data=$(mktemp -d)
server=""
cleanup() {
    if [[ -n $server ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$data"
}
trap cleanup EXIT

# Starts the server (TAVERN_SERVER_BIN, default the release build) with the limits a
# load test needs (many logins and handshakes from one address) and waits until it
# answers; exits with its log if it does not start.
start_server() {
    local port=$((20000 + RANDOM % 20000))
    url="http://127.0.0.1:$port"
    "${TAVERN_SERVER_BIN:-$bin/tavern-server}" --no-watch \
        --http "127.0.0.1:$port" --udp "127.0.0.1:$((port + 1))" --data-dir "$data/server" \
        --handshakes-per-ip 4000 --login-rate 600000 --login-burst 100000 \
        --tokens-per-ip 100000 "$@" 2>"$data/server.log" &
    server=$!
    for _ in $(seq 100); do
        if curl -sf "$url/healthz" >/dev/null 2>&1; then return; fi
        if ! kill -0 "$server" 2>/dev/null; then
            server=""
            echo "the server did not start:" >&2
            cat "$data/server.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

rss() { awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$server/status"; }
