#!/usr/bin/env python3
"""Writes the benchmark maps. Deterministic (seeded), so running it again gives the
same files.

maps/bench/arena.tmj, the 200x200-tile map of benches/load.sh: 32 px tiles (6,400 px
square), walled around, with small wall blocks scattered over about 3 % of the floor,
and 1,600 spawn points on a grid, listed in a shuffled order so players joining one
after another are spread over the whole map.

maps/bench/voice-hall.tmj, the map of benches/voice.sh: 40 groups of 5 spawn points
(a cross, all five within 96 px of each other, inside the default 100 px hearing
radius), the groups 384 px apart, listed group by group so every 5 players joining
one after another stand together.
"""
import base64
import json
import random
import struct
import zlib
from pathlib import Path

W = H = 200
TILE = 32
FLOOR, WALL = 10, 4  # town.tsx: tile 9 is grass, tile 3 collides
rng = random.Random(11)

walls = [0] * (W * H)
for x in range(W):
    walls[x] = walls[(H - 1) * W + x] = WALL
for y in range(H):
    walls[y * W] = walls[y * W + W - 1] = WALL

spawn_cells = {(2 + 5 * i, 2 + 5 * j) for i in range(40) for j in range(40)}
blocks = 0
while blocks < 420:
    bw, bh = rng.randint(1, 3), rng.randint(1, 3)
    x0, y0 = rng.randint(2, W - 3 - bw), rng.randint(2, H - 3 - bh)
    cells = [(x, y) for x in range(x0, x0 + bw) for y in range(y0, y0 + bh)]
    # Keep spawn points and their neighbours free.
    if any((cx + dx, cy + dy) in spawn_cells for cx, cy in cells for dx in (-1, 0, 1) for dy in (-1, 0, 1)):
        continue
    for x, y in cells:
        walls[y * W + x] = WALL
    blocks += 1


def layer_data(cells):
    raw = b"".join(struct.pack("<I", c) for c in cells)
    return base64.b64encode(zlib.compress(raw, 9)).decode()


spawns = sorted(spawn_cells)
rng.shuffle(spawns)

tile_layer = lambda lid, name, cells, w, h: {
    "type": "tilelayer", "id": lid, "name": name, "width": w, "height": h, "x": 0, "y": 0,
    "opacity": 1, "visible": True, "encoding": "base64", "compression": "zlib",
    "data": layer_data(cells),
}


def write_map(name, w, h, walls, objects, description):
    doc = {
        "type": "map", "version": "1.10", "tiledversion": "1.11.0",
        "orientation": "orthogonal", "renderorder": "right-down",
        "width": w, "height": h, "tilewidth": TILE, "tileheight": TILE,
        "infinite": False, "compressionlevel": -1,
        "nextlayerid": 4, "nextobjectid": len(objects) + 1,
        "properties": [{"name": "mapDescription", "type": "string", "value": description}],
        "tilesets": [{"firstgid": 1, "source": "../town.tsx"}],
        "layers": [
            tile_layer(1, "ground", [FLOOR] * (w * h), w, h),
            tile_layer(2, "walls", walls, w, h),
            {"type": "objectgroup", "id": 3, "name": "spawns", "draworder": "topdown",
             "opacity": 1, "visible": True, "x": 0, "y": 0, "objects": objects},
        ],
    }
    out = Path(__file__).resolve().parent.parent / "maps" / "bench" / name
    out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return out


def spawn_objects(points):
    return [{
        "id": i + 1, "name": "", "type": "spawn", "x": x, "y": y,
        "width": 0, "height": 0, "rotation": 0, "visible": True, "point": True,
    } for i, (x, y) in enumerate(points)]


def border(w, h):
    cells = [0] * (w * h)
    for x in range(w):
        cells[x] = cells[(h - 1) * w + x] = WALL
    for y in range(h):
        cells[y * w] = cells[y * w + w - 1] = WALL
    return cells


objects = spawn_objects([(cx * TILE + TILE / 2, cy * TILE + TILE / 2) for cx, cy in spawns])
out = write_map("arena.tmj", W, H, walls, objects,
                "Benchmark arena: 200x200 tiles, scattered walls, 1,600 spawn points.")
print(f"wrote {out}: {W}x{H} tiles, {blocks} wall blocks, {len(objects)} spawn points")

# The voice hall: 8 x 5 groups, 12 tiles apart.
GW, GH, STEP = 8, 5, 12
VW, VH = GW * STEP + 4, GH * STEP + 4
points = []
for gy in range(GH):
    for gx in range(GW):
        cx, cy = (4 + gx * STEP) * TILE, (4 + gy * STEP) * TILE
        points += [(cx, cy), (cx - 48, cy), (cx + 48, cy), (cx, cy - 48), (cx, cy + 48)]
out = write_map("voice-hall.tmj", VW, VH, border(VW, VH), spawn_objects(points),
                "Voice benchmark: 40 groups of 5 players, 384 px apart.")
print(f"wrote {out}: {VW}x{VH} tiles, {len(points)} spawn points in groups of 5")
