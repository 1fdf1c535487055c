#!/usr/bin/env python3
"""Writes maps/bench/arena.tmj: the 200x200-tile benchmark map of benches/load.sh.

32 px tiles (6,400 px square), walled around, with small wall blocks scattered over
about 3 % of the floor, and 1,600 spawn points on a grid, listed in a shuffled order so
players joining one after another are spread over the whole map. Deterministic (seeded),
so running it again gives the same file.
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
objects = []
for i, (cx, cy) in enumerate(spawns):
    objects.append({
        "id": i + 1, "name": "", "type": "spawn",
        "x": cx * TILE + TILE / 2, "y": cy * TILE + TILE / 2,
        "width": 0, "height": 0, "rotation": 0, "visible": True, "point": True,
    })

tile_layer = lambda lid, name, cells: {
    "type": "tilelayer", "id": lid, "name": name, "width": W, "height": H, "x": 0, "y": 0,
    "opacity": 1, "visible": True, "encoding": "base64", "compression": "zlib",
    "data": layer_data(cells),
}
doc = {
    "type": "map", "version": "1.10", "tiledversion": "1.11.0",
    "orientation": "orthogonal", "renderorder": "right-down",
    "width": W, "height": H, "tilewidth": TILE, "tileheight": TILE,
    "infinite": False, "compressionlevel": -1,
    "nextlayerid": 4, "nextobjectid": len(objects) + 1,
    "properties": [{"name": "mapDescription", "type": "string",
                    "value": "Benchmark arena: 200x200 tiles, scattered walls, 1,600 spawn points."}],
    "tilesets": [{"firstgid": 1, "source": "../town.tsx"}],
    "layers": [
        tile_layer(1, "ground", [FLOOR] * (W * H)),
        tile_layer(2, "walls", walls),
        {"type": "objectgroup", "id": 3, "name": "spawns", "draworder": "topdown",
         "opacity": 1, "visible": True, "x": 0, "y": 0, "objects": objects},
    ],
}
out = Path(__file__).resolve().parent.parent / "maps" / "bench" / "arena.tmj"
out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
print(f"wrote {out}: {W}x{H} tiles, {blocks} wall blocks, {len(objects)} spawn points")
