"""The ``drawn`` tracks: cartoon scenes drawn from vector primitives, B printed and rescanned.

Every source is a theme of scene drawn here with OpenCV primitives -- polygons, ellipses,
lines with black outlines and flat fills -- at four times the size and reduced (area), like
line art: a garden, a street, a harbour, a dusk with stars and mountains, a village of houses,
a ranch whose sky and ground are of like red (``dev``; the last three appended in rounds fifty
and fifty-two, so the others keep their pairs); a farm, a park, a night sky over a town
(``test``). Objects (houses, trees, suns, clouds, cars, boats, flowers, fences, people, birds,
mountains, stars) are placed from the pair's seed; a black frame runs round the
picture. The scenes are the benchmark's own work (MIT). Each is 640x480 px.

An edit is one of ``add`` (a new object in a free place), ``remove`` (an object taken away),
``recolour`` (an object's fill changed) and ``move`` (an object moved by 8 to 20 px); five per
scene, on objects apart from each other.

In ``drawn-pristine`` B is the edited scene. In ``drawn`` B is the edited scene printed and
rescanned: scaled by 1 to 3% (up or down) and turned by 0.3 to 1 degree about the centre,
offset by a fraction of a pixel plus up to 3 px, blurred (Gaussian, sigma 0.5 to 0.9), tinted
like paper, with Gaussian noise (sigma 0.01 to 0.02) and a grey scanner margin of 3 to 10 px
along one or two edges where the page did not reach; the part of the page moved off the
scan is lost.

Truth (on A's grid): the edited and unedited scenes differ exactly there before the scan --
the changed objects in A and their counterparts in B, mapped back onto A's grid by the
inverse of the scan's transform. The scan's own changes (the margin, the frame's new place,
every edge moved by the rotation) are not differences. Each edit's footprint is what it
changes when applied alone, grown by 2 px; the truth is split among the edits by nearest
footprint. ``info`` holds the scan's matrix (A's grid to B's).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from benchmarks.quality import real
from benchmarks.quality.pairs import Pair

WIDTH, HEIGHT = 640, 480
SUPER = 4
EDITS_PER_SCENE = 5
EDIT_KINDS = ("add", "remove", "recolour", "move")
FILLS = ((231, 76, 60), (46, 204, 113), (52, 152, 219), (241, 196, 15), (155, 89, 182), (230, 126, 34),
         (26, 188, 156), (236, 240, 241), (149, 165, 166), (192, 57, 43), (39, 174, 96), (41, 128, 185),
         (243, 156, 18), (142, 68, 173), (211, 84, 0), (255, 255, 255), (121, 85, 72), (255, 182, 193))
INK = (20, 20, 20)

Obj = dict[str, Any]


def _pts(points: list[tuple[float, float]], x: float, y: float, s: float) -> np.ndarray:
    return np.array([[(x + px * s) * SUPER, (y + py * s) * SUPER] for px, py in points], np.int32)


def _poly(canvas: np.ndarray, points: np.ndarray, fill: tuple[int, ...], line: int = 3) -> None:
    cv2.fillPoly(canvas, [points], fill, cv2.LINE_AA)
    cv2.polylines(canvas, [points], True, INK, line * SUPER, cv2.LINE_AA)


def _ellipse(canvas: np.ndarray, x: float, y: float, rx: float, ry: float, fill: tuple[int, ...], line: int = 3) -> None:
    centre, axes = (round(x * SUPER), round(y * SUPER)), (max(1, round(rx * SUPER)), max(1, round(ry * SUPER)))
    cv2.ellipse(canvas, centre, axes, 0, 0, 360, fill, -1, cv2.LINE_AA)
    cv2.ellipse(canvas, centre, axes, 0, 0, 360, INK, line * SUPER, cv2.LINE_AA)


def _line(canvas: np.ndarray, p: tuple[float, float], q: tuple[float, float], width: int = 3,
          colour: tuple[int, ...] = INK) -> None:
    cv2.line(canvas, (round(p[0] * SUPER), round(p[1] * SUPER)), (round(q[0] * SUPER), round(q[1] * SUPER)), colour,
             width * SUPER, cv2.LINE_AA)


def draw_house(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _poly(c, _pts([(-0.5, 0), (0.5, 0), (0.5, -0.7), (-0.5, -0.7)], x, y, s), o["fill"])
    _poly(c, _pts([(-0.6, -0.7), (0.6, -0.7), (0, -1.15)], x, y, s), o["fill2"])
    _poly(c, _pts([(-0.12, 0), (0.12, 0), (0.12, -0.35), (-0.12, -0.35)], x, y, s), (121, 85, 72))
    for wx in (-0.33, 0.33):
        _poly(c, _pts([(wx - 0.1, -0.42), (wx + 0.1, -0.42), (wx + 0.1, -0.58), (wx - 0.1, -0.58)], x, y, s),
              (174, 214, 241), 2)


def draw_tree(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _poly(c, _pts([(-0.08, 0), (0.08, 0), (0.08, -0.5), (-0.08, -0.5)], x, y, s), (121, 85, 72))
    _ellipse(c, x, y - 0.75 * s, 0.36 * s, 0.4 * s, o["fill"])


def draw_sun(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    for k in range(10):
        a = 2 * math.pi * k / 10
        _line(c, (x + 0.35 * s * math.cos(a), y + 0.35 * s * math.sin(a)),
              (x + 0.5 * s * math.cos(a), y + 0.5 * s * math.sin(a)), 2)
    _ellipse(c, x, y, 0.27 * s, 0.27 * s, o["fill"])


def draw_cloud(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    for dx, dy, r in ((-0.3, 0, 0.22), (0, -0.1, 0.3), (0.3, 0, 0.22)):
        _ellipse(c, x + dx * s, y + dy * s, r * s, r * s * 0.8, o["fill"], 2)
    cv2.ellipse(c, (round(x * SUPER), round((y + 0.05 * s) * SUPER)), (round(0.42 * s * SUPER), round(0.14 * s * SUPER)),
                0, 0, 360, o["fill"], -1, cv2.LINE_AA)


def draw_car(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _poly(c, _pts([(-0.5, -0.12), (0.5, -0.12), (0.5, -0.35), (0.25, -0.35), (0.12, -0.55), (-0.25, -0.55),
                   (-0.38, -0.35), (-0.5, -0.35)], x, y, s), o["fill"])
    _poly(c, _pts([(-0.2, -0.38), (0.08, -0.38), (0.08, -0.5), (-0.18, -0.5)], x, y, s), (174, 214, 241), 2)
    for wx in (-0.28, 0.28):
        _ellipse(c, x + wx * s, y - 0.12 * s, 0.11 * s, 0.11 * s, (60, 60, 60))


def draw_boat(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _poly(c, _pts([(-0.5, -0.2), (0.5, -0.2), (0.35, 0), (-0.35, 0)], x, y, s), o["fill"])
    _line(c, (x, y - 0.2 * s), (x, y - 0.95 * s), 2)
    _poly(c, _pts([(0.03, -0.9), (0.03, -0.28), (0.4, -0.28)], x, y, s), o["fill2"], 2)


def draw_flower(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _line(c, (x, y), (x, y - 0.6 * s), 2, (39, 120, 60))
    for k in range(6):
        a = 2 * math.pi * k / 6
        _ellipse(c, x + 0.16 * s * math.cos(a), y - 0.7 * s + 0.16 * s * math.sin(a), 0.1 * s, 0.1 * s, o["fill"], 1)
    _ellipse(c, x, y - 0.7 * s, 0.08 * s, 0.08 * s, (241, 196, 15), 1)


def draw_fence(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    for k in range(5):
        px = -0.5 + 0.25 * k
        _poly(c, _pts([(px - 0.06, 0), (px + 0.06, 0), (px + 0.06, -0.4), (px, -0.48), (px - 0.06, -0.4)], x, y, s),
              o["fill"], 2)
    _line(c, (x - 0.55 * s, y - 0.28 * s), (x + 0.55 * s, y - 0.28 * s), 2)


def draw_person(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _line(c, (x, y - 0.35 * s), (x - 0.15 * s, y), 3)
    _line(c, (x, y - 0.35 * s), (x + 0.15 * s, y), 3)
    _poly(c, _pts([(-0.13, -0.35), (0.13, -0.35), (0.1, -0.72), (-0.1, -0.72)], x, y, s), o["fill"], 2)
    _line(c, (x - 0.1 * s, y - 0.68 * s), (x - 0.25 * s, y - 0.45 * s), 3)
    _line(c, (x + 0.1 * s, y - 0.68 * s), (x + 0.25 * s, y - 0.45 * s), 3)
    _ellipse(c, x, y - 0.84 * s, 0.11 * s, 0.12 * s, (255, 224, 189), 2)


def draw_bird(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    for side in (-1, 1):
        cv2.ellipse(c, (round((x + side * 0.2 * s) * SUPER), round(y * SUPER)),
                    (round(0.2 * s * SUPER), round(0.12 * s * SUPER)), 0, 180, 360, INK, 2 * SUPER, cv2.LINE_AA)


def draw_mountain(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    _poly(c, _pts([(-0.6, 0), (0.6, 0), (0, -0.8)], x, y, s), o["fill"])
    _poly(c, _pts([(-0.17, -0.57), (0.17, -0.57), (0, -0.8)], x, y, s), (255, 255, 255), 2)


def draw_star(c: np.ndarray, o: Obj) -> None:
    x, y, s = o["x"], o["y"], o["size"]
    points = [(0.3 * (1 if k % 2 == 0 else 0.45) * math.sin(math.pi * k / 5),
               -0.3 * (1 if k % 2 == 0 else 0.45) * math.cos(math.pi * k / 5)) for k in range(10)]
    _poly(c, _pts(points, x, y, s), o["fill"], 2)


DRAW: dict[str, Callable[[np.ndarray, Obj], None]] = {
    "house": draw_house, "tree": draw_tree, "sun": draw_sun, "cloud": draw_cloud, "car": draw_car, "boat": draw_boat,
    "flower": draw_flower, "fence": draw_fence, "person": draw_person, "bird": draw_bird, "mountain": draw_mountain,
    "star": draw_star,
}
#: (sky, ground, horizon as a share of the height) and the objects: (kind, size range, where: sky or ground).
THEMES: dict[str, dict[str, Any]] = {
    "garden": {"sky": (190, 225, 250), "ground": (120, 200, 110), "horizon": 0.5,
               "objects": [("house", (90, 130), "ground"), ("tree", (70, 110), "ground"), ("flower", (30, 45), "ground"),
                           ("fence", (60, 90), "ground"), ("sun", (50, 70), "sky"), ("cloud", (60, 90), "sky"),
                           ("bird", (20, 30), "sky")]},
    "street": {"sky": (205, 215, 230), "ground": (150, 150, 155), "horizon": 0.55,
               "objects": [("house", (80, 120), "ground"), ("car", (70, 100), "ground"), ("person", (45, 60), "ground"),
                           ("tree", (70, 100), "ground"), ("cloud", (60, 90), "sky"), ("bird", (18, 26), "sky")]},
    "harbour": {"sky": (200, 230, 255), "ground": (70, 130, 200), "horizon": 0.45,
                "objects": [("boat", (60, 100), "ground"), ("mountain", (100, 150), "horizon"),
                            ("sun", (50, 70), "sky"), ("cloud", (60, 90), "sky"), ("bird", (20, 30), "sky")]},
    "farm": {"sky": (185, 220, 245), "ground": (170, 200, 90), "horizon": 0.5,
             "objects": [("house", (100, 140), "ground"), ("fence", (70, 100), "ground"), ("tree", (70, 110), "ground"),
                         ("mountain", (110, 160), "horizon"), ("sun", (50, 70), "sky"), ("cloud", (60, 90), "sky")]},
    "park": {"sky": (195, 230, 245), "ground": (110, 190, 120), "horizon": 0.45,
             "objects": [("tree", (80, 120), "ground"), ("person", (45, 65), "ground"), ("flower", (28, 42), "ground"),
                         ("bird", (20, 30), "sky"), ("cloud", (60, 90), "sky"), ("sun", (45, 65), "sky")]},
    "night": {"sky": (25, 35, 80), "ground": (60, 60, 70), "horizon": 0.6,
              "objects": [("house", (80, 120), "ground"), ("car", (70, 95), "ground"), ("star", (20, 34), "sky"),
                          ("cloud", (60, 80), "sky"), ("tree", (60, 90), "ground")]},
    "dusk": {"sky": (70, 55, 115), "ground": (45, 75, 60), "horizon": 0.55,
             "objects": [("house", (80, 120), "ground"), ("tree", (60, 100), "ground"), ("fence", (60, 90), "ground"),
                         ("mountain", (100, 150), "horizon"), ("star", (18, 30), "sky"), ("bird", (18, 28), "sky")]},
    "village": {"sky": (215, 225, 240), "ground": (140, 175, 100), "horizon": 0.4,
                "objects": [("house", (70, 110), "ground"), ("house", (70, 110), "ground"),
                            ("fence", (60, 90), "ground"), ("tree", (60, 100), "ground"),
                            ("person", (40, 55), "ground"), ("cloud", (60, 90), "sky"), ("sun", (45, 65), "sky")]},
    # A sky and a ground of like red: a channel with little contrast over most of the scan.
    "ranch": {"sky": (180, 215, 240), "ground": (180, 195, 100), "horizon": 0.5,
              "objects": [("house", (100, 140), "ground"), ("fence", (70, 100), "ground"),
                          ("tree", (70, 110), "ground"), ("mountain", (110, 160), "horizon"), ("sun", (50, 70), "sky"),
                          ("cloud", (60, 90), "sky")]},
}
SOURCES = {s.name: s for s in (
    real.Source("garden", "dev", "generated by the benchmark (MIT)"),
    real.Source("street", "dev", "generated by the benchmark (MIT)"),
    real.Source("harbour", "dev", "generated by the benchmark (MIT)"),
    real.Source("farm", "test", "generated by the benchmark (MIT)"),
    real.Source("park", "test", "generated by the benchmark (MIT)"),
    real.Source("night", "test", "generated by the benchmark (MIT)"),
    real.Source("dusk", "dev", "generated by the benchmark (MIT)"),
    real.Source("village", "dev", "generated by the benchmark (MIT)"),
    real.Source("ranch", "dev", "generated by the benchmark (MIT)"),
)}


def _extent(o: Obj) -> tuple[float, float, float, float]:
    """A generous box ``(x0, y0, x1, y1)`` round an object (objects stand on ``y``, or centre there)."""
    s = o["size"]
    if o["kind"] in ("sun", "cloud", "bird", "star"):
        return (o["x"] - 0.55 * s, o["y"] - 0.55 * s, o["x"] + 0.55 * s, o["y"] + 0.55 * s)
    return (o["x"] - 0.65 * s, o["y"] - 1.2 * s, o["x"] + 0.65 * s, o["y"] + 0.05 * s)


def _apart(p: tuple[float, ...], q: tuple[float, ...], gap: float) -> bool:
    return p[2] + gap <= q[0] or q[2] + gap <= p[0] or p[3] + gap <= q[1] or q[3] + gap <= p[1]


def _place(theme: dict[str, Any], rng: np.random.Generator, taken: list[tuple[float, ...]],
           kind_spec: tuple[str, tuple[int, int], str], gap: float = 6.0) -> Obj | None:
    kind, (low, high), where = kind_spec
    horizon = theme["horizon"] * HEIGHT
    for _ in range(60):
        size = float(rng.uniform(low, high))
        x = float(rng.uniform(20 + 0.6 * size, WIDTH - 20 - 0.6 * size))
        if where == "sky":
            y = float(rng.uniform(25 + 0.55 * size, horizon - 0.3 * size))
        elif where == "horizon":
            y = horizon + 2
        else:
            y = float(rng.uniform(horizon + 0.25 * size, HEIGHT - 20))
        o = {"kind": kind, "x": round(x, 2), "y": round(y, 2), "size": round(size, 2),
             "fill": tuple(int(v) for v in FILLS[int(rng.integers(0, len(FILLS)))]),
             "fill2": tuple(int(v) for v in FILLS[int(rng.integers(0, len(FILLS)))])}
        box = _extent(o)
        if box[0] < 14 or box[1] < 14 or box[2] > WIDTH - 14 or box[3] > HEIGHT - 14:
            continue
        if all(_apart(box, t, gap) for t in taken):
            return o
    return None


def make_scene(theme_name: str, rng: np.random.Generator) -> list[Obj]:
    theme = THEMES[theme_name]
    objects: list[Obj] = []
    taken: list[tuple[float, ...]] = []
    for _ in range(int(rng.integers(9, 13))):
        spec = theme["objects"][int(rng.integers(0, len(theme["objects"])))]
        o = _place(theme, rng, taken, spec)
        if o is not None:
            objects.append(o)
            taken.append(_extent(o))
    objects.sort(key=lambda o: o["y"])  # farther (higher) objects first
    return objects


def render(theme_name: str, objects: list[Obj]) -> np.ndarray:
    """The scene as HxWx3 uint8: drawn at four times the size, then reduced (area)."""
    theme = THEMES[theme_name]
    canvas = np.zeros((HEIGHT * SUPER, WIDTH * SUPER, 3), np.uint8)
    horizon = round(theme["horizon"] * HEIGHT * SUPER)
    canvas[:horizon] = theme["sky"]
    canvas[horizon:] = theme["ground"]
    for o in objects:
        DRAW[o["kind"]](canvas, o)
    cv2.rectangle(canvas, (6 * SUPER, 6 * SUPER), ((WIDTH - 6) * SUPER, (HEIGHT - 6) * SUPER), INK, 3 * SUPER)
    return cv2.resize(canvas, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def plan_edits(theme_name: str, objects: list[Obj], rng: np.random.Generator,
               count: int = EDITS_PER_SCENE) -> list[tuple[str, Callable[[list[Obj]], None]]]:
    """Edits on objects apart from each other: (kind, change of the object list)."""
    theme = THEMES[theme_name]
    taken: list[tuple[float, ...]] = []
    edits: list[tuple[str, Callable[[list[Obj]], None]]] = []
    kinds = [EDIT_KINDS[int(k)] for k in rng.permutation(len(EDIT_KINDS))]
    order = [int(i) for i in rng.permutation(len(objects))]
    for step in range(count * 3):
        if len(edits) == count:
            break
        kind = kinds[len(edits) % len(kinds)]
        if kind == "add":
            spec = theme["objects"][int(rng.integers(0, len(theme["objects"])))]
            new = _place(theme, rng, [_extent(o) for o in objects] + taken, spec, gap=10.0)
            if new is None:
                continue
            edits.append(("add", lambda objs, n=new: objs.append(dict(n))))
            taken.append(_extent(new))
            continue
        if not order:
            break
        index = order.pop()
        o = objects[index]
        box = _extent(o)
        if not all(_apart(box, t, 12.0) for t in taken):
            continue
        if kind == "remove":
            edits.append(("remove", lambda objs, i=index: objs.__setitem__(i, {**objs[i], "kind": "none"})))
        elif kind == "recolour":
            fill = tuple(int(v) for v in FILLS[int(rng.integers(0, len(FILLS)))])
            if fill == o["fill"]:
                fill = tuple(255 - v for v in fill)
            edits.append(("recolour", lambda objs, i=index, f=fill: objs[i].__setitem__("fill", f)))
        else:
            step_px = float(rng.uniform(8, 20))
            angle = float(rng.uniform(0, 2 * math.pi))
            dx, dy = round(step_px * math.cos(angle), 2), round(step_px * math.sin(angle), 2)
            moved = {**o, "x": o["x"] + dx, "y": o["y"] + dy}
            box = tuple(min(p, q) if k < 2 else max(p, q) for k, (p, q) in enumerate(zip(box, _extent(moved))))
            edits.append(("move", lambda objs, i=index, m=moved: objs.__setitem__(i, dict(m))))
        taken.append(box)
    return edits


def _visible(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] != "none"]


def scan(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """``image`` printed and rescanned; returns the scan and its parameters (matrix: A's grid to B's)."""
    h, w = image.shape[:2]
    scale = 1.0 + float(rng.uniform(0.01, 0.03) * rng.choice([-1, 1]))
    angle = float(rng.uniform(0.3, 1.0) * rng.choice([-1, 1]))
    shift = (float(rng.uniform(-3, 3)), float(rng.uniform(-3, 3)))
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
    matrix[:, 2] += shift
    paper = np.array([250, 247, 238], np.float32)
    page = cv2.warpAffine(image.astype(np.float32), matrix, (w, h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in paper))
    sigma = float(rng.uniform(0.5, 0.9))
    page = cv2.GaussianBlur(page, (0, 0), sigma)
    tint = np.array([1.0, float(rng.uniform(0.97, 0.99)), float(rng.uniform(0.90, 0.95))], np.float32)
    page = page * tint + float(rng.uniform(2, 8))
    noise = float(rng.uniform(0.01, 0.02))
    page = page + rng.normal(0.0, noise * 255.0, page.shape).astype(np.float32)
    margins = {}
    for side in rng.choice(["top", "bottom", "left", "right"], size=int(rng.integers(1, 3)), replace=False):
        width = int(rng.integers(3, 11))
        margins[str(side)] = width
        grey = float(rng.uniform(185, 225))
        region = {"top": np.s_[:width], "bottom": np.s_[h - width:], "left": np.s_[:, :width],
                  "right": np.s_[:, w - width:]}[str(side)]
        page[region] = grey
    out = np.clip(np.rint(page), 0, 255).astype(np.uint8)
    info = {"scale": round(scale, 5), "angle": round(angle, 4), "shift": [round(v, 3) for v in shift],
            "blur": round(sigma, 3), "noise": round(noise, 4), "margins": margins,
            "matrix": [[round(float(v), 6) for v in row] for row in matrix]}
    return out, info


@lru_cache(maxsize=2)
def _edited(source: str, variant: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[str, np.ndarray]]]:
    """A, the edited scene and the edits' footprints (shared by both tracks)."""
    key = list(SOURCES).index(source)
    objects = make_scene(source, real.rng(seed, 301, key, variant))
    edits = plan_edits(source, objects, real.rng(seed, 302, key, variant))
    a = render(source, _visible(objects))
    footprints = []
    for kind, change in edits:
        alone = copy.deepcopy(objects)
        change(alone)
        footprints.append((kind, ndimage.binary_dilation(real.changed(a, render(source, _visible(alone))), iterations=2)))
    edited = copy.deepcopy(objects)
    for _, change in edits:
        change(edited)
    return a, render(source, _visible(edited)), footprints


def unchanged_pair(source: str, variant: int, seed: int = 0, max_side: int = 640) -> tuple[np.ndarray, np.ndarray, str]:
    """A and B of :func:`make_pair`'s degraded pair ``variant`` without its edits: the scene and
    the same scene printed and rescanned as that pair's B is, nothing changed; and ``scanned``."""
    key = list(SOURCES).index(source)
    a = render(source, _visible(make_scene(source, real.rng(seed, 301, key, variant))))
    b, _ = scan(a, real.rng(seed, 303, key, variant))
    scale = min(1.0, max_side / max(WIDTH, HEIGHT))
    if scale < 1:
        size = (round(WIDTH * scale), round(HEIGHT * scale))
        a, b = (real.area_resize(image, size) for image in (a, b))
    return a, b, "scanned"


def make_pair(source: str, variant: int, degraded: bool, seed: int = 0, max_side: int = 640) -> Pair:
    """The pair ``variant`` of scene theme ``source``; B printed and rescanned when ``degraded``.

    ``max_side`` below 640 reduces A, B and the truth's scene (the smoke test's small pairs).
    """
    a, clean, footprints = _edited(source, variant, seed)
    key = list(SOURCES).index(source)
    b, info = scan(clean, real.rng(seed, 303, key, variant)) if degraded else (clean, {})
    scale = min(1.0, max_side / max(WIDTH, HEIGHT))
    if scale < 1:
        size = (round(WIDTH * scale), round(HEIGHT * scale))
        a, b, clean = (real.area_resize(image, size) for image in (a, b, clean))
        footprints = [(k, cv2.resize(f.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0) for k, f in footprints]
    truth = real.changed(a, clean)
    track = "drawn" if degraded else "drawn-pristine"
    return Pair(f"{source}-{variant}-{track}", source, track, variant, a.copy(), b.copy(), truth,
                real.assign(truth, footprints), info)
