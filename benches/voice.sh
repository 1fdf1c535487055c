#!/usr/bin/env bash
# Voice benchmark: a release server on the voice hall (maps/bench/voice-hall.tmj: groups
# of 5 players within hearing, 384 px apart) and N light bots standing still, first
# silent, then speaking (`tavern-bots --voice`: each 30 % of the time), SECS seconds
# each, on the same server. Prints one JSON line: the server's CPU and the bytes each
# bot received in both runs, what voice added (CPU as a share of one core, bytes per
# second per listener and per speaking neighbour), and the voice report.
#
#   benches/voice.sh [PLAYERS [SECS]]     (default 200 players, 30 s)
set -euo pipefail
players=${1:-200}
secs=${2:-30}
# shellcheck source=benches/lib.sh
source "$(dirname "$0")/lib.sh"

start_server --map maps/bench/voice-hall.tmj --max-clients $((players + 8))
run() {
    "$bin/tavern-bots" --server "$url" --count "$players" --light --predict-sample 0 \
        --still --duration "$secs" --json "$@"
}
silent=$(run)
speaking=$(run --voice)
python3 - "$silent" "$speaking" <<'PY'
import json, sys
silent, speaking = json.loads(sys.argv[1]), json.loads(sys.argv[2])
cpu = speaking["server_cpu_percent"] - silent["server_cpu_percent"]
down = speaking["down_bytes_per_s_per_bot"] - silent["down_bytes_per_s_per_bot"]
neighbours = speaking["voice_speaking_neighbours_mean"]
print(json.dumps({
    "players": speaking["connected"],
    "server_cpu_percent_silent": round(silent["server_cpu_percent"], 2),
    "server_cpu_percent_speaking": round(speaking["server_cpu_percent"], 2),
    "voice_added_cpu_percent_of_a_core": round(cpu, 2),
    "down_bytes_per_s_per_bot_silent": round(silent["down_bytes_per_s_per_bot"]),
    "down_bytes_per_s_per_bot_speaking": round(speaking["down_bytes_per_s_per_bot"]),
    "voice_added_bytes_per_s_per_listener": round(down),
    "voice_speaking_neighbours_mean": round(neighbours, 3),
    "voice_bytes_per_s_per_speaking_neighbour": round(down / neighbours) if neighbours > 0 else None,
    "server_tick_p99_ms_speaking": speaking["server_tick_p99_ms"],
    **{k: v for k, v in speaking.items() if k.startswith("voice_")},
    "failures": silent["failures"] + speaking["failures"],
}))
PY
