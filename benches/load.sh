#!/usr/bin/env bash
# Load benchmark: a release server on the 200x200 benchmark arena and N bots on this
# machine for SECS seconds (after all are connected); prints one JSON line with the
# bots' report (tavern-bots --json), the server's figures from its /metrics and its
# memory growth per player.
#
#   benches/load.sh PLAYERS SECS [more tavern-bots flags, e.g. --still]
#
# TAVERN_SERVER_ARGS adds server flags (e.g. "--send-hz 30 --view-radius 600");
# TAVERN_SERVER_BIN runs another server binary (e.g. one built with other features).
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: benches/load.sh PLAYERS SECS [tavern-bots flags]" >&2
    exit 2
fi
players=$1
secs=$2
shift 2
cd "$(dirname "$0")/.."
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

http_port=$((20000 + RANDOM % 20000))
udp_port=$((http_port + 1))
max_clients=$((players < 4088 ? players + 8 : 4096))
# shellcheck disable=SC2086 # TAVERN_SERVER_ARGS is a list of flags
"${TAVERN_SERVER_BIN:-$bin/tavern-server}" --map maps/bench/arena.tmj --no-watch \
    --http "127.0.0.1:$http_port" --udp "127.0.0.1:$udp_port" --data-dir "$data/server" \
    --max-clients "$max_clients" --handshakes-per-ip 4000 \
    --login-rate 600000 --login-burst 100000 --tokens-per-ip 100000 \
    ${TAVERN_SERVER_ARGS:-} 2>"$data/server.log" &
server=$!
for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "the server did not start:" >&2
        cat "$data/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
rss_idle=$(awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$server/status")

status=0
report=$("$bin/tavern-bots" --server "http://127.0.0.1:$http_port" --count "$players" \
    --duration "$secs" --json "$@") || status=$?
rss_end=$(awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$server/status")
connected=$(sed -n 's/.*"connected":\([0-9]*\).*/\1/p' <<<"$report")
per_player=$(awk -v a="$rss_idle" -v b="$rss_end" -v n="${connected:-0}" \
    'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "null" }')
echo "${report%\}},\"players\":$players,\"server_rss_idle_bytes\":$rss_idle,\"server_rss_end_bytes\":$rss_end,\"server_rss_growth_per_player_bytes\":$per_player}"
exit "$status"
