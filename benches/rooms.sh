#!/usr/bin/env bash
# Rooms benchmark: one release server, ROOMS rooms made over its HTTP API, BUSY of them
# with PER bots each (light bots; in CHATTY of the busy rooms full bots that chat), for
# SECS seconds. Prints one JSON line: server memory per empty room, server CPU with no
# room and with every room idle, and from the bots the join latency (login to the
# avatar's first state) and chat delivery (a line from the sender's `say` to another
# bot of the room having it).
#
#   benches/rooms.sh [ROOMS=1000] [BUSY=100] [PER=5] [SECS=20] [CHATTY=4]
set -euo pipefail
rooms=${1:-1000}
busy=${2:-100}
per=${3:-5}
secs=${4:-20}
chatty=${5:-4}
if ((busy > rooms || chatty > busy)); then
    echo "usage: benches/rooms.sh [ROOMS] [BUSY<=ROOMS] [PER] [SECS] [CHATTY<=BUSY]" >&2
    exit 2
fi
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"
start_server --max-clients 4096 --max-rooms 100000 --rooms-per-player 100000

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
# Server CPU in percent of one core over N seconds.
cpu_over() {
    local a b
    a=$(cpu_ticks)
    sleep "$1"
    b=$(cpu_ticks)
    echo "scale=2; ($b - $a) / $1" | bc
}

sleep 2
idle_none=$(cpu_over 10)
rss_before=$(rss)
ids=$(python3 - "$url" "$rooms" <<'EOF'
import json, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
def call(route, body, token=None):
    req = urllib.request.Request(url + route, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    return json.load(urllib.request.urlopen(req))
token = call("/api/login", {"name": "bench-host"})["api_token"]
ids = [call("/api/rooms", {"name": f"Room {i}", "map": "town", "max_players": 100}, token)["id"]
       for i in range(n)]
print(",".join(ids))
EOF
)
sleep 3
rss_after=$(rss)
idle_rooms=$(cpu_over 10)

IFS=, read -r -a all <<<"$ids"
chat_rooms=$(IFS=,; echo "${all[*]:0:chatty}")
light_rooms=$(IFS=,; echo "${all[*]:chatty:busy-chatty}")
full_report="{}"
light_report="{}"
if ((chatty > 0)); then
    "$bin/tavern-bots" --server "$url" --count $((chatty * per)) --full --still \
        --chat 4 --duration "$secs" --room "$chat_rooms" --json \
        >"$data/full.json" 2>>"$data/bots.log" &
    full=$!
fi
if ((busy > chatty)); then
    "$bin/tavern-bots" --server "$url" --count $(((busy - chatty) * per)) --light \
        --predict-sample 0 --still --duration "$secs" --room "$light_rooms" --json \
        >"$data/light.json" 2>>"$data/bots.log" || true
fi
if ((chatty > 0)); then
    wait "$full" || true
    full_report=$(cat "$data/full.json")
fi
if ((busy > chatty)); then
    light_report=$(cat "$data/light.json")
fi

python3 - "$rooms" "$busy" "$per" "$rss_before" "$rss_after" "$idle_none" "$idle_rooms" \
    "$full_report" "$light_report" <<'EOF'
import json, sys
rooms, busy, per = map(int, sys.argv[1:4])
rss_before, rss_after = float(sys.argv[4]), float(sys.argv[5])
full, light = json.loads(sys.argv[8] or "{}"), json.loads(sys.argv[9] or "{}")
joins = [r.get(k) for r in (full, light) for k in ("join_ms_p50", "join_ms_p99")]
print(json.dumps({
    "rooms": rooms,
    "busy_rooms": busy,
    "bots_per_busy_room": per,
    "rss_before_rooms_bytes": rss_before,
    "rss_with_rooms_bytes": rss_after,
    "rss_per_empty_room_bytes": round((rss_after - rss_before) / rooms),
    "server_cpu_percent_no_rooms": float(sys.argv[6]),
    "server_cpu_percent_rooms_idle": float(sys.argv[7]),
    "join_ms_p50_light": light.get("join_ms_p50"),
    "join_ms_p99_light": light.get("join_ms_p99"),
    "join_ms_p50_full": full.get("join_ms_p50"),
    "join_ms_p99_full": full.get("join_ms_p99"),
    "chat_delivery_ms_p50": full.get("chat_delivery_ms_p50"),
    "chat_delivery_ms_p99": full.get("chat_delivery_ms_p99"),
    "chat_delivery_samples": full.get("chat_delivery_samples"),
    "connected": (full.get("connected") or 0) + (light.get("connected") or 0),
    "failed": (full.get("failed") or 0) + (light.get("failed") or 0),
    "server_tick_p99_ms": light.get("server_tick_p99_ms") or full.get("server_tick_p99_ms"),
    "server_cpu_percent_busy": light.get("server_cpu_percent") or full.get("server_cpu_percent"),
}))
EOF
