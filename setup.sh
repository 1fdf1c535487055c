#!/usr/bin/env bash
# Installs the Debian packages Tavern needs to build and run (Bevy's audio, input and
# windowing libraries) plus rustfmt and clippy, and what the web client's build and
# its browser test need: the wasm32 target, Trunk, wasm-bindgen's CLI
# and Chromium. Safe to run again; SKIP_WEB=1 leaves out the web part.
set -euo pipefail
cd "$(dirname "$0")"
# postgresql: the chat store tests start a throwaway PostgreSQL server of their own.
# python3-venv: moto's S3-compatible server, for the shared-files bucket test (below).
# libopus-dev: voice's codec; espeak-ng: the speech that the voice test and
# `tavern-bots --voice` say. redis-server: the fleet test starts one of its own.
packages=(pkg-config libasound2-dev libudev-dev libwayland-dev libxkbcommon-dev libx11-dev postgresql python3-venv libopus-dev espeak-ng redis-server)
# chromium: the browser test (tests/browser.rs).
[ "${SKIP_WEB:-0}" = 1 ] || packages+=(chromium)
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
# moto's S3-compatible server (PyPI), in a virtual environment of its own: the test of
# shared campaign files in a bucket (tests/handouts.rs) starts one on loopback.
venv="$HOME/.cache/tavern-venv"
if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.1"
fi
if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
if [ "${SKIP_WEB:-0}" != 1 ]; then
    rustup target add wasm32-unknown-unknown >/dev/null 2>&1
    # Trunk 0.21.14 is the newest that builds on Rust 1.95; wasm-bindgen's CLI must be
    # the version of the wasm-bindgen crate in Cargo.lock.
    bindgen=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
    if [ "$(trunk --version 2>/dev/null)" != "trunk 0.21.14" ]; then
        cargo install trunk --version 0.21.14 --locked
    fi
    if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]; then
        cargo install wasm-bindgen-cli --version "$bindgen"
    fi
fi
echo "setup: all packages present"
