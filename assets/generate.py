#!/usr/bin/env python3
"""Generates Tavern's procedural art and the first map. Standard library only.

Writes:
  assets/tilesets/town.png   the tileset image (32x32 tiles, 5 columns)
  assets/sprites/avatar.png  the avatar sheet: 4 looks, each 4 facings x idle, 2 walking and 2 running
                             frames, light greys so it can be tinted
  assets/sprites/slime.png, skeleton.png, ogre.png  monster sheets (4 facings x standing/stepping)
  assets/sprites/loot.png    loot icons, 16x16: gold, a potion, a key, a material
  assets/sprites/dungeon.png doors and chests, 32x32: door shut, door open, chest shut, chest open
  maps/town.tsx              the tileset as Tiled sees it (which tiles collide)
  maps/town.tmx              the first map

Run from the repository root: python3 assets/generate.py
The output is deterministic, so re-running it changes nothing unless this file changed.
"""

import json
import os
import random
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = 32  # tile size in pixels


def write_png(path, width, height, pixels):
    """pixels: list of rows, each a list of (r, g, b, a)."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(png)


def clamp(v):
    return max(0, min(255, int(v)))


def noise_tile(rng, base, spread):
    return [[tuple(clamp(c + rng.randint(-spread, spread)) for c in base) + (255,) for _ in range(T)] for _ in range(T)]


# Each tile: (name, collides, painter)
def grass(rng):
    t = noise_tile(rng, (86, 140, 70), 10)
    for _ in range(40):
        x, y = rng.randrange(T), rng.randrange(T - 2)
        t[y][x] = t[y + 1][x] = (60, 110, 50, 255)
    return t


def path(rng):
    t = noise_tile(rng, (170, 140, 100), 12)
    for _ in range(12):
        x, y = rng.randrange(1, T - 1), rng.randrange(1, T - 1)
        t[y][x] = (130, 110, 85, 255)
    return t


def wood(rng):
    t = noise_tile(rng, (150, 100, 60), 6)
    for y in range(T):
        for x in range(T):
            if y % 8 == 0 or (x + (y // 8) * 11) % 32 == 0:
                t[y][x] = (105, 68, 40, 255)
    return t


def wall(rng):
    t = noise_tile(rng, (120, 118, 125), 8)
    for y in range(T):
        for x in range(T):
            offset = 8 if (y // 8) % 2 else 0
            if y % 8 == 7 or (x + offset) % 16 == 15:
                t[y][x] = (70, 68, 75, 255)
    return t


def water(rng):
    t = noise_tile(rng, (60, 110, 180), 6)
    for y in range(2, T, 7):
        for x in range(T):
            if (x + y) % 11 < 4:
                t[y][x] = (150, 190, 230, 255)
    return t


def flowers(rng):
    t = grass(rng)
    for _ in range(10):
        x, y = rng.randrange(2, T - 2), rng.randrange(2, T - 2)
        colour = rng.choice([(235, 80, 90, 255), (250, 220, 80, 255), (240, 240, 250, 255)])
        for dx, dy in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
            t[y + dy][x + dx] = colour
    return t


def tree(rng):
    t = grass(rng)
    for y in range(T):
        for x in range(T):
            dx, dy = x - 15.5, y - 13
            if dx * dx + dy * dy < 13 * 13:
                shade = 20 if dx + dy < 0 else -15
                t[y][x] = (clamp(40 + shade + rng.randint(-8, 8)), clamp(105 + shade + rng.randint(-8, 8)), 45, 255)
            elif 13 <= x <= 18 and y >= 24:
                t[y][x] = (95, 60, 35, 255)
    return t


def table(rng):
    t = wood(rng)
    for y in range(4, 28):
        for x in range(3, 29):
            edge = y in (4, 27) or x in (3, 28)
            t[y][x] = (90, 55, 30, 255) if edge else (clamp(185 + rng.randint(-5, 5)), 135, 80, 255)
    return t


def rug(rng):
    t = noise_tile(rng, (150, 45, 50), 5)
    for y in range(T):
        for x in range(T):
            if (x + y) % 8 == 0 or (x - y) % 8 == 0:
                t[y][x] = (215, 170, 70, 255)
    return t


def stone_floor(rng):
    t = noise_tile(rng, (165, 160, 150), 7)
    for y in range(T):
        for x in range(T):
            if x % 16 == 0 or y % 16 == 0:
                t[y][x] = (125, 120, 112, 255)
    return t


TILES = [
    ("grass", False, grass),
    ("path", False, path),
    ("wood", False, wood),
    ("wall", True, wall),
    ("water", True, water),
    ("flowers", False, flowers),
    ("tree", True, tree),
    ("table", True, table),
    ("rug", False, rug),
    ("stone", False, stone_floor),
]
COLUMNS = 5


def tileset_png():
    rng = random.Random(1)
    rows = (len(TILES) + COLUMNS - 1) // COLUMNS
    w, h = COLUMNS * T, rows * T
    img = [[(0, 0, 0, 0)] * w for _ in range(h)]
    for i, (_, _, paint) in enumerate(TILES):
        tile = paint(rng)
        ox, oy = (i % COLUMNS) * T, (i // COLUMNS) * T
        for y in range(T):
            img[oy + y][ox : ox + T] = tile[y]
    write_png(os.path.join(ROOT, "assets/tilesets/town.png"), w, h, img)


# The avatar's looks, in the order of tavern_shared::avatar::LOOKS.
LOOKS = ["traveller", "ranger", "scholar", "smith"]
# Each look's rows: standing, walking (two steps), running (two strides).
AVATAR_ROWS = ["idle", "walk-a", "walk-b", "run-a", "run-b"]


def avatar_png():
    """4 columns (down, up, left, right) x 5 rows per look (idle, two walking steps, two
    running strides), the looks one under another; light greys so the player's tint
    shows. The first two rows (standing, stepping) keep the monster sheets' layout."""
    w, h = 4 * T, len(AVATAR_ROWS) * len(LOOKS) * T
    img = [[(0, 0, 0, 0)] * w for _ in range(h)]
    for li, look in enumerate(LOOKS):
        for ri, row in enumerate(AVATAR_ROWS):
            for col, facing in enumerate(["down", "up", "left", "right"]):
                ox, oy = col * T, (li * len(AVATAR_ROWS) + ri) * T

                def put(x, y, c, ox=ox, oy=oy):
                    if 0 <= x < T and 0 <= y < T:
                        img[oy + y][ox + x] = c

                draw_avatar(put, look, facing, row)
    write_png(os.path.join(ROOT, "assets/sprites/avatar.png"), w, h, img)


def draw_avatar(put, look, facing, row):
    """One frame of a look: legs and arms by the frame, the body leaning forward when
    running, and what sets the looks apart (hair, a hood, a robe, an apron and beard)."""
    body, dark, skin, eye = (235, 235, 235, 255), (120, 120, 130, 255), (250, 215, 185, 255), (40, 30, 30, 255)
    pale, black = (200, 200, 205, 255), (70, 65, 70, 255)
    running = row.startswith("run")
    phase = 0 if row == "idle" else (1 if row.endswith("-a") else -1)
    stride = 2 if running else 1
    # Leaning into a run: sideways when facing left or right, down a pixel otherwise.
    lean = 0
    if running:
        lean = -1 if facing == "left" else (1 if facing == "right" else 0)
    bob = 1 if running else 0
    # shadow
    for x in range(9, 23):
        put(x, 29, (0, 0, 0, 70))
    robe = look == "scholar"
    # legs: one lifts (and, sideways, reaches forward) as the other pushes
    for y in range(22, 29):
        for (x0, sign) in ((12, 1), (18, -1)):
            lift = max(0, phase * sign) * stride
            reach = 0
            if facing in ("left", "right") and phase != 0:
                reach = phase * sign * stride * (1 if facing == "right" else -1)
            if robe and y < 26:
                continue
            for x in (x0, x0 + 1):
                put(x + reach, y - lift, dark)
    top = 13 + bob
    # body (tinted); the scholar's robe reaches the ankles
    bottom = 26 if robe else 23
    for y in range(top, bottom):
        half = 6 + (1 if robe and y > 20 else 0)
        for x in range(16 - half + lean, 16 + half + lean):
            put(x, y, body)
    if look == "smith":
        # a dark apron over the front
        if facing != "up":
            for y in range(top + 3, 23):
                for x in range(12 + lean, 20 + lean):
                    put(x, y, black)
    if look == "ranger":
        # a belt and a strap across the chest
        for x in range(10 + lean, 22 + lean):
            put(x, top + 6, dark)
        for i in range(7):
            put(11 + i + lean, top + i, dark)
    # arms swing against the legs
    swing = phase * stride
    for y in range(top + 1, top + 8):
        put(9 + lean, y + swing, body)
        put(22 + lean, y - swing, body)
    # head
    hx, hy = 15.5 + lean, 7.5 + bob
    for y in range(2, 14):
        for x in range(10, 22):
            dx, dy = x - hx, y - hy
            if dx * dx + dy * dy < 26:
                put(x, y, skin)
    head = int(hy) - 4
    if look == "ranger":
        # a pointed hood over the head
        for y in range(head - 2, head + 3):
            for x in range(11 + lean, 21 + lean):
                if abs(x - (15.5 + lean)) < (y - head + 3) * 1.6:
                    put(x, y, dark)
        for y in range(head + 3, head + 9):
            put(10 + lean, y, dark)
            put(21 + lean, y, dark)
    elif look == "smith":
        # bald, with a beard
        if facing != "up":
            for y in range(head + 7, head + 11):
                for x in range(12 + lean, 20 + lean):
                    if facing == "down" or (facing == "left") == (x < 16 + lean):
                        put(x, y, black)
    elif look == "scholar":
        # long pale hair down the sides
        for x in range(11 + lean, 21 + lean):
            put(x, head, pale)
            put(x, head + 1, pale)
        for y in range(head + 1, head + 10):
            put(10 + lean, y, pale)
            put(21 + lean, y, pale)
    else:
        for x in range(11 + lean, 21 + lean):
            put(x, head, dark)
            put(x, head + 1, dark)
    # the face (or the back of the head)
    ey = head + 5
    if facing == "down":
        put(13 + lean, ey, eye)
        put(18 + lean, ey, eye)
        if look == "scholar":
            # spectacles
            for x in (12, 14, 17, 19):
                put(x + lean, ey, black)
    elif facing == "up":
        hair = {"traveller": dark, "ranger": dark, "scholar": pale, "smith": skin}[look]
        for y in range(head + 2, head + 8):
            for x in range(12 + lean, 20 + lean):
                put(x, y, hair)
    elif facing == "left":
        put(12 + lean, ey, eye)
    else:
        put(19 + lean, ey, eye)


def monster_png(name, draw):
    """A monster sheet in the avatar's layout: 4 facings x standing/stepping."""
    w, h = 4 * T, 2 * T
    img = [[(0, 0, 0, 0)] * w for _ in range(h)]
    for col, facing in enumerate(["down", "up", "left", "right"]):
        for row in range(2):
            ox, oy = col * T, row * T

            def put(x, y, c, ox=ox, oy=oy):
                if 0 <= x < T and 0 <= y < T:
                    img[oy + y][ox + x] = c

            draw(put, facing, row == 1)
    write_png(os.path.join(ROOT, f"assets/sprites/{name}.png"), w, h, img)


def eyes(put, facing, y, left, right, c=(20, 20, 20, 255)):
    shift = {"down": 0, "up": None, "left": -2, "right": 2}[facing]
    if shift is None:
        return
    for x in (left + shift, right + shift):
        put(x, y, c)
        put(x, y + 1, c)


def slime(put, facing, step):
    """A green drop that squashes as it hops."""
    squash = 2 if step else 0
    for x in range(8, 24):
        put(x, 29, (0, 0, 0, 70))
    for y in range(10 + squash, 29):
        for x in range(5, 27):
            dx, dy = (x - 15.5) / (11 + squash / 2), (y - 22) / (12 - squash)
            if dx * dx + dy * dy <= 1.0 and y <= 28:
                shade = 170 + int(40 * (1 - (y - 10) / 19))
                put(x, y, (60, clamp(shade), 80, 235))
    for x in range(10, 14):
        put(x, 14 + squash, (200, 255, 210, 255))
    eyes(put, facing, 18 + squash, 12, 19)


def skeleton(put, facing, step):
    """Bones: a white skull, ribs, a bow."""
    bone, dark = (235, 230, 215, 255), (90, 85, 80, 255)
    for x in range(10, 22):
        put(x, 29, (0, 0, 0, 70))
    for y in range(3, 12):
        for x in range(11, 21):
            dx, dy = x - 15.5, y - 7.5
            if dx * dx + dy * dy < 24:
                put(x, y, bone)
    eyes(put, facing, 7, 13, 18, dark)
    for y in range(12, 22):
        put(15, y, bone)
        put(16, y, bone)
    for y in (14, 16, 18):
        for x in range(12, 20):
            put(x, y, bone)
    lift = 1 if step else 0
    for y in range(22, 29):
        put(13, y - lift, bone)
        put(18, y, bone)
    for y in range(10, 24):
        put(24 + (1 if abs(y - 17) < 4 else 0), y, (140, 90, 40, 255))


def ogre(put, facing, step):
    """A big brown brute filling the frame."""
    skin, dark, tusk = (150, 120, 70, 255), (90, 65, 35, 255), (245, 240, 220, 255)
    for x in range(3, 29):
        put(x, 30, (0, 0, 0, 90))
    for y in range(2, 12):
        for x in range(9, 23):
            dx, dy = x - 15.5, y - 7
            if dx * dx / 49 + dy * dy / 25 <= 1:
                put(x, y, skin)
    eyes(put, facing, 6, 12, 19, (200, 30, 30, 255))
    if facing != "up":
        put(12, 10, tusk)
        put(19, 10, tusk)
    for y in range(12, 25):
        for x in range(4, 28):
            dx, dy = x - 15.5, y - 18
            if dx * dx / 144 + dy * dy / 49 <= 1:
                put(x, y, skin)
    for x in range(8, 24):
        put(x, 22, dark)
    lift = 2 if step else 0
    for y in range(24, 30):
        for x in (9, 10, 11):
            put(x, y - lift, dark)
        for x in (20, 21, 22):
            put(x, y, dark)


def loot_png():
    """Four 16x16 icons in a row: gold coins, a potion, a key, a gem (materials)."""
    S = 16
    img = [[(0, 0, 0, 0)] * (4 * S) for _ in range(S)]

    def put(i, x, y, c):
        if 0 <= x < S and 0 <= y < S:
            img[y][i * S + x] = c

    gold, shine, dark = (240, 200, 60, 255), (255, 245, 170, 255), (150, 110, 20, 255)
    for cx, cy in ((6, 9), (10, 10), (8, 6)):
        for y in range(S):
            for x in range(S):
                d = (x - cx) ** 2 + (y - cy) ** 2
                if d <= 9:
                    put(0, x, y, dark if d > 6 else gold)
        put(0, cx - 1, cy - 1, shine)
    glass, red = (200, 220, 240, 255), (220, 40, 50, 255)
    for y in range(3, 6):
        for x in range(7, 10):
            put(1, x, y, glass)
    for y in range(6, 15):
        for x in range(3, 14):
            if (x - 8) ** 2 + (y - 10) ** 2 <= 20:
                put(1, x, y, red if y >= 8 else glass)
    iron = (190, 190, 200, 255)
    for y in range(3, 9):
        for x in range(3, 9):
            if 4 <= (x - 5.5) ** 2 + (y - 5.5) ** 2 <= 9:
                put(2, x, y, iron)
    for i in range(8):
        put(2, 8 + i // 1 if i < 6 else 13, 8 + i if i < 6 else 12, iron)
    for x in (11, 13):
        put(2, x, 12, iron)
        put(2, x, 13, iron)
    gem, edge = (120, 200, 220, 255), (40, 90, 120, 255)
    for y in range(3, 14):
        w = 6 - abs(y - 7) if y < 8 else 6 - (y - 7)
        for x in range(8 - max(w, 0), 8 + max(w, 0)):
            put(3, x, y, edge if x in (8 - w, 8 + w - 1) else gem)
    write_png(os.path.join(ROOT, "assets/sprites/loot.png"), 4 * S, S, img)


def dungeon_png():
    """Four 32x32 frames in a row: a shut door, an open door, a shut chest, an open chest."""
    S = 32
    img = [[(0, 0, 0, 0)] * (4 * S) for _ in range(S)]

    def put(i, x, y, c):
        if 0 <= x < S and 0 <= y < S:
            img[y][i * S + x] = c

    plank, seam, band, rivet = (120, 78, 40, 255), (80, 50, 25, 255), (90, 90, 100, 255), (200, 200, 210, 255)
    frame, dark = (70, 66, 64, 255), (28, 24, 24, 255)
    for y in range(S):
        for x in range(S):
            edge = x < 3 or x >= S - 3 or y < 3
            # Shut: planks in a stone frame, two iron bands with rivets, a keyhole.
            if edge:
                put(0, x, y, frame)
                put(1, x, y, frame)
                continue
            c = seam if x % 6 == 2 else plank
            if y in (8, 9, 22, 23):
                c = rivet if x % 6 == 4 else band
            put(0, x, y, c)
            # Open: a dark doorway with the door swung against the left post.
            put(1, x, y, plank if x < 7 else (seam if x == 7 else dark))
    for y in range(15, 19):
        for x in range(20, 23):
            put(0, x, y, dark if (y < 17 or x == 21) else plank)
    wood, lid, gold, shine, shadow = (130, 84, 40, 255), (150, 100, 50, 255), (240, 200, 60, 255), (255, 245, 170, 255), (40, 26, 14, 255)
    for y in range(S):
        for x in range(3, S - 3):
            # Shut: a lid above a body, gold trim and a lock.
            if 10 <= y < 28:
                c = lid if y < 16 else wood
                if y in (15, 16) or x in (3, 4, S - 5, S - 4):
                    c = gold
                put(2, x, y, c)
            # Open: the lid stands up behind, the gold inside shows.
            if 4 <= y < 10:
                put(3, x, y, lid if x not in (3, 4, S - 5, S - 4) else gold)
            if 16 <= y < 28:
                c = wood
                if y == 16 or x in (3, 4, S - 5, S - 4):
                    c = gold
                put(3, x, y, c)
            if 10 <= y < 16:
                inside = 5 <= x < S - 5
                put(3, x, y, (shine if (x + y) % 5 == 0 else gold) if inside and y >= 12 else (shadow if inside else gold))
    for y in range(17, 21):
        for x in range(14, 18):
            put(2, x, y, shadow if (x, y) in ((15, 18), (16, 18)) else gold)
    write_png(os.path.join(ROOT, "assets/sprites/dungeon.png"), 4 * S, S, img)


# The town: '#' wall, '~' water, 'T' tree, 'f' flowers, '.' grass, ':' path, 'w' wood floor,
# 'r' rug, 't' table, 's' stone floor, 'S' spawn (on stone).
TOWN = [
    "########################################",
    "#TT....f.......::.........f.......TT...#",
    "#T.............::..................T...#",
    "#..#########...::....~~~~~.............#",
    "#..#wwwwwww#...::...~~~~~~~......f.....#",
    "#..#wrrrrrw#...::...~~~~~~~............#",
    "#..#wrtttrw#...::....~~~~~.....#######.#",
    "#..#wrrrrrw#...::..............#wwwww#.#",
    "#..#wwwwwww#...::..............#wtwtw#.#",
    "#..####w####...::..............#wwwww#.#",
    "#......:.......::..............###w###.#",
    "#......:::::::::::::::::::::::::::::...#",
    "#.f............:ssssssssss:............#",
    "#..............:ssssssssss:.........f..#",
    "#....T.........:sssSSSSsss:............#",
    "#..............:sssSSSSsss:......T.....#",
    "#..............:ssssssssss:............#",
    "#......f.......:ssssssssss:............#",
    "#..............::::::::::::............#",
    "#..######.######...............T.......#",
    "#..#wwwwwwwwwww#.......f...............#",
    "#..#wtwwwwwwwtw#.....................T.#",
    "#..#wwwwrrwwwww#.......................#",
    "#..#wtwwrrwwwtw#...T.......~~~.........#",
    "#..#wwwwwwwwwww#..........~~~~~........#",
    "#..#############...........~~~....f....#",
    "#T.....................................#",
    "#TT.........f.................T......TT#",
    "#TTT.................................TTT#"[:40],
    "########################################",
]

GROUND = {".": "grass", "T": "grass", "f": "flowers", ":": "path", "w": "wood", "r": "rug",
          "t": "wood", "s": "stone", "S": "stone", "#": "stone", "~": "grass"}
SOLID = {"#": "wall", "~": "water", "T": "tree", "t": "table"}


def gid(name):
    return 1 + [t[0] for t in TILES].index(name)


def csv(rows):
    return ",\n".join(",".join(str(v) for v in row) for row in rows)


def prop(name, kind, value):
    return f'<property name="{name}" type="{kind}" value="{value}"/>' if kind != "string" else f'<property name="{name}" value="{value}"/>'


def tmx_object(oid, name, cls, x, y, w=None, h=None, props=(), point=False):
    size = "" if w is None else f' width="{w}" height="{h}"'
    kind = f' type="{cls}"' if cls else ""
    body = "".join(prop(*p) for p in props)
    inner = (f"<properties>{body}</properties>" if body else "") + ("<point/>" if point else "")
    return f'  <object id="{oid}" name="{name}"{kind} x="{x}" y="{y}"{size}>{inner}</object>'


def cells(x0, y0, x1, y1):
    """Pixel rectangle of tiles x0..x1, y0..y1 (inclusive)."""
    return x0 * T, y0 * T, (x1 - x0 + 1) * T, (y1 - y0 + 1) * T


# The town's zones: (name, class, tile rectangle or point, properties).
TOWN_ZONES = [
    ("Meeting room A", "area", cells(4, 4, 10, 8),
     [("jitsiRoom", "string", "meeting-a"), ("jitsiTrigger", "string", "onenter")]),
    ("Stand-up room", "area", cells(33, 7, 37, 9),
     [("jitsiRoom", "string", "standup"), ("jitsiTrigger", "string", "onaction"),
      ("jitsiTriggerMessage", "string", "Press E to join the stand-up")]),
    ("Library", "area", cells(4, 20, 14, 24),
     [("silent", "bool", "true"), ("playAudio", "string", "audio/library-rain.ogg"),
      ("audioVolume", "float", "0.3"), ("audioLoop", "bool", "true")]),
    ("Reading booth", "area", cells(8, 22, 9, 23), [("private", "bool", "true")]),
    ("Innkeeper", "area", cells(28, 13, 31, 16),
     [("agentId", "string", "innkeeper"), ("agentTrigger", "string", "onaction"),
      ("triggerMessage", "string", "Press E to talk to the innkeeper")]),
    ("Notice board", "area", cells(17, 12, 24, 12),
     [("openWebsite", "string", "https://example.org/tavern-news"),
      ("openWebsiteTrigger", "string", "onaction"),
      ("openWebsiteTriggerMessage", "string", "Press E to read the notices")]),
    ("Cellar stairs", "area", cells(37, 12, 38, 13),
     [("exitUrl", "string", "dungeon.tmj#from-town")]),
]


def town_tmx():
    h, w = len(TOWN), len(TOWN[0])
    assert all(len(r) == w for r in TOWN), [len(r) for r in TOWN]
    ground = [[gid(GROUND[c]) for c in row] for row in TOWN]
    solid = [[gid(SOLID[c]) if c in SOLID else 0 for c in row] for row in TOWN]
    start = [[gid("stone") if c == "S" else 0 for c in row] for row in TOWN]
    objects = [
        tmx_object(i + 1, name, cls, x, y, zw, zh, props)
        for i, (name, cls, (x, y, zw, zh), props) in enumerate(TOWN_ZONES)
    ]
    n = len(objects)
    objects.append(tmx_object(n + 1, "from-dungeon", "", 35 * T + T // 2, 12 * T + T // 2,
                              props=[("start", "bool", "true")], point=True))
    objects = "\n".join(objects)
    tmx = f"""<?xml version="1.0" encoding="UTF-8"?>
<map version="1.10" tiledversion="1.11.0" orientation="orthogonal" renderorder="right-down" width="{w}" height="{h}" tilewidth="{T}" tileheight="{T}" infinite="0" nextlayerid="5" nextobjectid="{n + 2}">
 <properties>
  <property name="mapDescription" value="The town square: meeting rooms, a quiet library, the innkeeper and the cellar stairs down to the dungeon."/>
 </properties>
 <tileset firstgid="1" source="town.tsx"/>
 <layer id="1" name="ground" width="{w}" height="{h}">
  <data encoding="csv">
{csv(ground)}
</data>
 </layer>
 <layer id="2" name="walls" width="{w}" height="{h}">
  <data encoding="csv">
{csv(solid)}
</data>
 </layer>
 <layer id="3" name="start" width="{w}" height="{h}" visible="0">
  <data encoding="csv">
{csv(start)}
</data>
 </layer>
 <objectgroup id="4" name="zones">
{objects}
 </objectgroup>
</map>
"""
    with open(os.path.join(ROOT, "maps/town.tmx"), "w") as f:
        f.write(tmx)


# The dungeon under the town: '#' wall, 's' stone floor, ':' doorway.
DUNGEON = [
    "##############################",
    "#ssss#sssssssss#sssssssssssss#",
    "#ssss#sssssssss#sssssssssssss#",
    "#ssss:sssssssss:sssssssssssss#",
    "#:sss#sssssssss#sssssssssssss#",
    "#:sss#sssssssss#sssssssssssss#",
    "###:############sssssssssssss#",
    "#sssssssss######sssssssssssss#",
    "#sssssssss######sssssssssssss#",
    "#sssssssss######sssssssssssss#",
    "##############################",
]


def json_props(props):
    out = []
    for name, kind, value in props:
        if kind == "bool":
            value = value == "true" if isinstance(value, str) else value
        elif kind == "float":
            value = float(value)
        elif kind == "int":
            value = int(value)
        out.append({"name": name, "type": kind, "value": value})
    return out


def json_object(oid, name, cls, x, y, w=0, h=0, props=(), point=False):
    o = {"id": oid, "name": name, "type": cls, "x": x, "y": y, "width": w, "height": h,
         "rotation": 0, "visible": True}
    if point:
        o["point"] = True
    if props:
        o["properties"] = json_props(props)
    return o


DUNGEON_ZONES = [
    ("Entrance", "area", cells(1, 1, 4, 5), [("room", "string", "entrance")]),
    # The way up: the path tiles along the west wall, off the way to the store room.
    ("Back to town", "area", cells(1, 4, 1, 5), [("exitUrl", "string", "town.tmx#from-dungeon")]),
    ("Hall", "area", cells(6, 1, 14, 5), [("room", "string", "hall")]),
    ("Slime pit", "area", cells(8, 2, 12, 4),
     [("enemySpawn", "string", "slime"), ("count", "int", 3), ("respawnSecs", "float", 20)]),
    # Clearing the store room opens the way into the hall.
    ("Hall door", "area", cells(5, 3, 5, 3), [("door", "string", "store")]),
    ("Store room", "area", cells(1, 7, 9, 9), [("room", "string", "store")]),
    ("Store slimes", "area", cells(6, 7, 9, 9),
     [("enemySpawn", "string", "slime"), ("count", "int", 2), ("respawnSecs", "float", 30)]),
    ("Lair", "area", cells(16, 1, 28, 9), [("room", "string", "lair")]),
    # Clearing the hall, then the store chest's iron key (used up), opens the lair.
    ("Lair door", "area", cells(15, 3, 15, 3),
     [("door", "string", "hall"), ("key", "string", "iron-key"), ("consumeKey", "bool", True)]),
]


def dungeon_tmj():
    import base64
    import zlib
    h, w = len(DUNGEON), len(DUNGEON[0])
    assert all(len(r) == w for r in DUNGEON), [len(r) for r in DUNGEON]
    floor_of = {"#": "stone", "s": "stone", ":": "path"}
    ground = [gid(floor_of[c]) for row in DUNGEON for c in row]
    walls = [gid("wall") if c == "#" else 0 for row in DUNGEON for c in row]
    packed = base64.b64encode(zlib.compress(b"".join(v.to_bytes(4, "little") for v in walls))).decode()
    objects = [
        json_object(i + 1, name, cls, x, y, zw, zh, props)
        for i, (name, cls, (x, y, zw, zh), props) in enumerate(DUNGEON_ZONES)
    ]
    n = len(objects)
    half = T // 2
    objects += [
        json_object(n + 1, "from-town", "", 2 * T + half, 1 * T + half,
                    props=[("start", "bool", True)], point=True),
        json_object(n + 2, "", "spawn", 2 * T + half, 2 * T + half, point=True),
        json_object(n + 3, "Iron chest", "", 2 * T + half, 8 * T + half,
                    props=[("lootChest", "string", "store-chest")], point=True),
        json_object(n + 4, "Ogre", "", 24 * T + half, 5 * T + half,
                    props=[("boss", "string", "ogre")], point=True),
    ]
    doc = {
        "type": "map", "version": "1.10", "tiledversion": "1.11.0",
        "orientation": "orthogonal", "renderorder": "right-down",
        "width": w, "height": h, "tilewidth": T, "tileheight": T, "infinite": False,
        "compressionlevel": -1, "nextlayerid": 5, "nextobjectid": len(objects) + 1,
        "properties": [{"name": "mapDescription", "type": "string",
                        "value": ("Under the town: clear the store room's slimes to open the hall; clear the hall "
                                  "and bring the iron key from the store room's chest to open the ogre's lair.")}],
        "tilesets": [{"firstgid": 1, "source": "town.tsx"}],
        "layers": [
            {"type": "group", "id": 1, "name": "floor", "opacity": 1, "visible": True, "x": 0, "y": 0,
             "layers": [
                 {"type": "tilelayer", "id": 2, "name": "ground", "width": w, "height": h,
                  "x": 0, "y": 0, "opacity": 1, "visible": True, "data": ground},
             ]},
            {"type": "tilelayer", "id": 3, "name": "walls", "width": w, "height": h,
             "x": 0, "y": 0, "opacity": 1, "visible": True,
             "encoding": "base64", "compression": "zlib", "data": packed},
            {"type": "objectgroup", "id": 4, "name": "zones", "draworder": "topdown",
             "opacity": 1, "visible": True, "x": 0, "y": 0, "objects": objects},
        ],
    }
    with open(os.path.join(ROOT, "maps/dungeon.tmj"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def town_tsx():
    rows = (len(TILES) + COLUMNS - 1) // COLUMNS
    tiles = "\n".join(
        f' <tile id="{i}"><properties><property name="collides" type="bool" value="true"/></properties></tile>'
        for i, (_, collides, _) in enumerate(TILES)
        if collides
    )
    tsx = f"""<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.10" tiledversion="1.11.0" name="town" tilewidth="{T}" tileheight="{T}" tilecount="{len(TILES)}" columns="{COLUMNS}">
 <image source="../assets/tilesets/town.png" width="{COLUMNS * T}" height="{rows * T}"/>
{tiles}
</tileset>
"""
    with open(os.path.join(ROOT, "maps/town.tsx"), "w") as f:
        f.write(tsx)


if __name__ == "__main__":
    os.makedirs(os.path.join(ROOT, "maps"), exist_ok=True)
    tileset_png()
    avatar_png()
    monster_png("slime", slime)
    monster_png("skeleton", skeleton)
    monster_png("ogre", ogre)
    loot_png()
    dungeon_png()
    town_tsx()
    town_tmx()
    dungeon_tmj()
    print("wrote assets/tilesets/town.png, assets/sprites/{avatar,slime,skeleton,ogre,loot,dungeon}.png, maps/town.tsx, maps/town.tmx, maps/dungeon.tmj")
