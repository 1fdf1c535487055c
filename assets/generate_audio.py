#!/usr/bin/env python3
"""Generates Tavern's sample ambient track: assets/audio/library-rain.ogg, soft rain
for the library zone of maps/town.tmx (its `playAudio` property).

Needs numpy and soundfile (pip install numpy soundfile). Run from the repository
root: python3 assets/generate_audio.py. Seeded, so the sound is the same every run
(the encoder may still vary the bytes between versions).
"""

import os

import numpy as np
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 22050
SECONDS = 8


def rain(rng):
    n = RATE * SECONDS
    # A bed of low-passed noise: the hiss of rain further away.
    noise = rng.standard_normal(n)
    bed = np.zeros(n)
    acc = 0.0
    for i in range(n):
        acc += 0.08 * (noise[i] - acc)
        bed[i] = acc
    bed *= 0.9 / np.max(np.abs(bed))
    # Drops: short decaying clicks at random times and pitches.
    drops = np.zeros(n)
    t = np.arange(int(RATE * 0.03)) / RATE
    for _ in range(SECONDS * 40):
        at = rng.integers(0, n - len(t))
        freq = rng.uniform(1800, 4200)
        drops[at:at + len(t)] += rng.uniform(0.05, 0.25) * np.sin(2 * np.pi * freq * t) * np.exp(-t * 160)
    sound = 0.5 * bed + drops
    # Loops without a click: the end fades into the start.
    fade = RATE // 2
    ramp = np.linspace(0.0, 1.0, fade)
    sound[:fade] = sound[:fade] * ramp + sound[-fade:] * (1 - ramp)
    sound = sound[:-fade]
    return (0.8 * sound / np.max(np.abs(sound))).astype(np.float32)


if __name__ == "__main__":
    path = os.path.join(ROOT, "assets", "audio", "library-rain.ogg")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(path, rain(np.random.default_rng(7)), RATE, format="OGG", subtype="VORBIS")
    print(f"wrote {os.path.relpath(path, ROOT)}")
