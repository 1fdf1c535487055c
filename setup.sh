#!/usr/bin/env bash
# Installs the Debian packages Tavern needs to build and run (Bevy's audio, input and
# windowing libraries) plus rustfmt and clippy. Safe to run again.
set -euo pipefail
# postgresql: the chat store tests start a throwaway PostgreSQL server of their own.
packages=(pkg-config libasound2-dev libudev-dev libwayland-dev libxkbcommon-dev libx11-dev postgresql)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
echo "setup: all packages present"
