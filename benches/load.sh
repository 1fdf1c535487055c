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
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"

max_clients=$((players < 4088 ? players + 8 : 4096))
# shellcheck disable=SC2086 # TAVERN_SERVER_ARGS is a list of flags
start_server --map maps/bench/arena.tmj --max-clients "$max_clients" ${TAVERN_SERVER_ARGS:-}
rss_idle=$(rss)

status=0
report=$("$bin/tavern-bots" --server "$url" --count "$players" \
    --duration "$secs" --json "$@") || status=$?
rss_end=$(rss)
connected=$(sed -n 's/.*"connected":\([0-9]*\).*/\1/p' <<<"$report")
per_player=$(awk -v a="$rss_idle" -v b="$rss_end" -v n="${connected:-0}" \
    'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "null" }')
echo "${report%\}},\"players\":$players,\"server_rss_idle_bytes\":$rss_idle,\"server_rss_end_bytes\":$rss_end,\"server_rss_growth_per_player_bytes\":$per_player}"
exit "$status"
