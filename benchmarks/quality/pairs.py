"""Spot-the-difference pairs with exact change masks, made deterministically from free images.

Every pair starts from a public-domain or CC0 image that scikit-image ships in its wheel or
draws (``skimage.data``; no download): photographs, a silhouette, a phantom, random blobs.
Image B is image A with seven local edits, one of each kind in :data:`EDIT_KINDS`, placed at
random but apart from each other and from the border. A *track* then degrades the pair the
way real pairs are degraded:

=========== ==============================================================================
pristine    the pair as edited, lossless
jpeg        A saved as JPEG quality 90, B as JPEG quality 75 (Pillow, 4:2:0)
noise       independent Gaussian noise, sigma 0.025 (of the [0, 1] range), on A and on B
shift       B translated by 0.25 to 1 px along each axis (bicubic), A untouched
resample    A shrunk by 0.7-0.9 (area), B by 0.45-0.7 (bilinear), both enlarged back
            (bicubic): a stand-in for real resampled puzzles, which cannot be shipped
=========== ==============================================================================

Stress tracks check that a choice holds at other strengths: ``noise-light`` (sigma 0.01),
``noise-heavy`` (0.05), ``jpeg-heavy`` (qualities 50 and 30), ``shift-2px`` (1 to 2 px).

The truth is exact: a pixel is changed when its 8-bit value differs between the pristine A
and B (in any channel). Each edit keeps its own mask and box, which hit@k scores against;
in the ``shift`` track the masks are the union of the original and the shifted ones.

Everything is a function of ``(image, variant, seed)``: the same arguments give the same
bytes (``tests/benchmarks/test_quality_pairs.py`` checks it). Images are split into a
development set, used to choose the default pipeline, a held-out test set, used to report,
and a fresh set added later to report on content the choice was never near; see
:data:`SOURCES` and docs/quality.md.

Run ``python -m benchmarks.quality.pairs --help`` to write pairs to a folder.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

TRACKS = ("pristine", "jpeg", "noise", "shift", "resample")
#: Harsher and milder versions of the tracks, to check that a choice made on the tracks above
#: holds at other strengths (a knob tuned to one noise level would fail here).
STRESS_TRACKS = ("noise-light", "noise-heavy", "jpeg-heavy", "shift-2px")
ALL_TRACKS = TRACKS + STRESS_TRACKS
EDIT_KINDS = ("recolour", "removal", "copy-move", "moved-object", "blur", "brightness", "thin-line")
SPLITS = ("dev", "test", "fresh")

#: The long side images are scaled down to (area interpolation) before editing.
MAX_SIDE = 640
#: JPEG quality of A and of B.
JPEG_QUALITY = {"jpeg": (90, 75), "jpeg-heavy": (50, 30)}
#: Standard deviation of the noise, as a fraction of the [0, 1] range.
NOISE_SIGMA = {"noise": 0.025, "noise-light": 0.01, "noise-heavy": 0.05}
#: Per-axis translation of B, in pixels (sign drawn at random).
SHIFT_RANGE = {"shift": (0.25, 1.0), "shift-2px": (1.0, 2.0)}
#: Shrink factors of A and B in the resample track.
RESAMPLE_A = (0.7, 0.9)
RESAMPLE_B = (0.45, 0.7)


@dataclass(frozen=True)
class Source:
    """A source image: how to load it, its licence as scikit-image documents it, its split."""

    name: str
    split: str
    licence: str
    #: keyword arguments of the ``skimage.data`` function (a generated image's size and seed)
    options: tuple[tuple[str, object], ...] = ()

    def load(self, max_side: int = MAX_SIDE) -> np.ndarray:
        """The image as HxWx3 uint8 RGB (grey images repeated), long side at most ``max_side``."""
        import skimage.data

        image = np.asarray(getattr(skimage.data, self.name)(**dict(self.options)))
        if image.dtype == bool:  # a silhouette: black and white
            image = image.astype(np.uint8) * 255
        elif image.dtype.kind == "f":  # intensities in [0, 1]
            image = np.rint(np.clip(image, 0, 1) * 255)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = np.ascontiguousarray(image[..., :3].astype(np.uint8))
        scale = max_side / max(image.shape[:2])
        if scale < 1:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image


#: Licences as stated in each loader's docstring in ``skimage.data`` (scikit-image 0.26).
#: An image's place in this list seeds its edits: new sources go at the end.
SOURCES = {
    s.name: s
    for s in (
        Source("chelsea", "dev", "CC0 (photographer Stefan van der Walt)"),
        Source("rocket", "dev", "public domain (SpaceX)"),
        Source("hubble_deep_field", "dev", "public domain (NASA)"),
        Source("camera", "dev", "CC0 (photographer Lav Varshney)"),
        Source("gravel", "dev", "CC0 (CC0Textures)"),
        Source("clock", "dev", "public domain (photographer Stefan van der Walt)"),
        Source("coffee", "test", "CC0 (photographer Rachel Michetti)"),
        Source("astronaut", "test", "public domain (NASA)"),
        Source("retina", "test", "CC0 (Mikael Häggström, Wikimedia Commons)"),
        Source("brick", "test", "CC0 (CC0Textures)"),
        Source("grass", "test", "CC0 (DeviantArt, linolafett)"),
        Source("text", "test", "public domain (Wikipedia, Corner.png)"),
        Source("coins", "fresh", "public domain (Brooklyn Museum; no known copyright restrictions)"),
        Source("immunohistochemistry", "fresh", "public domain (CMMI; no known copyright restrictions)"),
        Source("horse", "dev", "CC0 (openclipart, Andreas Preuss)"),
        Source("shepp_logan_phantom", "fresh", "public domain (Shepp and Logan's 1974 phantom, drawn by scikit-image)"),
        Source("binary_blobs", "fresh", "public domain (generated: skimage.data.binary_blobs, seed 0)",
               (("length", 512), ("rng", 0))),
    )
}


@dataclass
class Edit:
    """One planted difference: its kind, its exact mask (HxW bool) and box ``(x0, y0, x1, y1)``."""

    kind: str
    mask: np.ndarray
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self) -> None:
        self.box = mask_box(self.mask)


@dataclass
class Pair:
    """Images A and B (HxWx3 uint8), the change mask (HxW bool) and the edits that made it."""

    name: str
    image: str
    track: str
    variant: int
    a: np.ndarray
    b: np.ndarray
    truth: np.ndarray
    edits: list[Edit]
    info: dict[str, object] = field(default_factory=dict)

    @property
    def diagonal(self) -> float:
        return math.hypot(*self.truth.shape)

    def digest(self) -> str:
        """SHA-256 of A, B and the truth: equal digests mean equal bytes."""
        h = hashlib.sha256()
        for array in (self.a, self.b, self.truth.astype(np.uint8)):
            h.update(str(array.shape).encode())
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the true pixels, end-exclusive; ``(0, 0, 0, 0)`` if none."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


# -- shapes -----------------------------------------------------------------------------------


def blob(shape: tuple[int, int], centre: tuple[float, float], radius: float, rng: np.random.Generator) -> np.ndarray:
    """A star-shaped blob with a wobbly outline, HxW bool; ``radius`` is its largest extent."""
    angles = np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
    wobble = rng.uniform(0.55, 1.0, size=angles.size)
    wobble = (wobble + np.roll(wobble, 1) + np.roll(wobble, -1)) / 3.0
    stretch = rng.uniform(0.6, 1.0)
    turn = rng.uniform(0.0, np.pi)
    x = radius * wobble * np.cos(angles)
    y = radius * wobble * np.sin(angles) * stretch
    xr = centre[1] + x * np.cos(turn) - y * np.sin(turn)
    yr = centre[0] + x * np.sin(turn) + y * np.cos(turn)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.stack([xr, yr], 1)).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def _grow_box(box: tuple[int, int, int, int], by: float) -> tuple[float, float, float, float]:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def _overlaps(p: tuple[float, ...], q: tuple[float, ...]) -> bool:
    return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]


# -- edits --------------------------------------------------------------------------------------
# Each edit takes the float image (HxWx3 in [0, 1]), a region and the generator, and returns the
# edited image; the region it was given may be replaced by the pixels it really touched.


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def _inpaint(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    mask = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8))
    return cv2.inpaint(_to_u8(image), mask, 5, cv2.INPAINT_TELEA).astype(np.float32) / 255.0


def edit_recolour(image, region, rng, **_):
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hue = hsv[..., 0]
    hsv[..., 0] = np.where(region, (hue + rng.uniform(100.0, 260.0)) % 360.0, hue)
    hsv[..., 1] = np.where(region, np.maximum(hsv[..., 1], rng.uniform(0.45, 0.7)), hsv[..., 1])
    return np.where(region[..., None], cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), image)


def edit_removal(image, region, rng, **_):
    return _inpaint(image, region)


def edit_copy_move(image, region, rng, source_offset=(0, 0), **_):
    dy, dx = source_offset
    moved = np.roll(image, (dy, dx), axis=(0, 1))
    return np.where(region[..., None], moved, image)


def edit_blur(image, region, rng, **_):
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(2.5, 4.0), borderType=cv2.BORDER_REFLECT_101)
    return np.where(region[..., None], blurred, image)


def edit_brightness(image, region, rng, **_):
    mean = float(image[region].mean())
    sign = -1.0 if mean > 0.55 else 1.0 if mean < 0.45 else rng.choice([-1.0, 1.0])
    return np.where(region[..., None], np.clip(image + sign * rng.uniform(0.12, 0.22), 0, 1), image)


def edit_moved_object(image, region, rng, offset=(0, 0), **_):
    dy, dx = offset
    background = _inpaint(image, region)
    target = np.roll(region, (dy, dx), axis=(0, 1))
    pasted = np.roll(image, (dy, dx), axis=(0, 1))
    return np.where(target[..., None], pasted, background)


EDITS: dict[str, Callable[..., np.ndarray]] = {
    "recolour": edit_recolour,
    "removal": edit_removal,
    "copy-move": edit_copy_move,
    "moved-object": edit_moved_object,
    "blur": edit_blur,
    "brightness": edit_brightness,
}


def _thin_line(image: np.ndarray, centre: tuple[float, float], length: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    angle = rng.uniform(0.0, np.pi)
    dy, dx = 0.5 * length * math.sin(angle), 0.5 * length * math.cos(angle)
    p0 = (round(centre[1] - dx), round(centre[0] - dy))
    p1 = (round(centre[1] + dx), round(centre[0] + dy))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.line(mask, p0, p1, 1, thickness=int(rng.integers(1, 3)), lineType=cv2.LINE_8)
    region = mask.astype(bool)
    local = float(image[region].mean())
    level = rng.uniform(0.0, 0.2) if local > 0.5 else rng.uniform(0.8, 1.0)
    tint = rng.uniform(0.0, 0.35, size=3)
    colour = np.clip(level + (tint - tint.mean()), 0, 1).astype(np.float32)
    return np.where(region[..., None], colour, image).astype(np.float32), region


# -- the generator --------------------------------------------------------------------------------


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in keys]))


def _texture(image: np.ndarray) -> np.ndarray:
    """Local detail (smoothed gradient magnitude of the luminance), HxW."""
    grey = image.mean(2)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    return cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), 4.0)


def plant_edits(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[Edit]]:
    """Apply one edit of every kind at non-overlapping places; returns B and the edits.

    A placement is kept only when the edit is visible: at least 60% of its region changes and
    the mean change there is at least 0.05; otherwise another place (and size) is drawn.
    """
    a = image.astype(np.float32) / 255.0
    h, w = a.shape[:2]
    diag = math.hypot(h, w)
    margin = 0.02 * diag
    apart = 0.03 * diag
    texture = _texture(a)
    out = a.copy()
    edits: list[Edit] = []
    taken: list[tuple[float, float, float, float]] = []

    def free(box: tuple[int, int, int, int]) -> bool:
        if box[2] <= box[0]:
            return False
        inside = box[0] >= margin and box[1] >= margin and box[2] <= w - margin and box[3] <= h - margin
        return inside and not any(_overlaps(_grow_box(box, apart), t) for t in taken)

    def centre_in(r: float, detail: bool) -> tuple[float, float]:
        candidates = [(rng.uniform(r + margin, h - r - margin), rng.uniform(r + margin, w - r - margin))
                      for _ in range(24 if detail else 1)]
        if not detail:
            return candidates[0]
        return max(candidates, key=lambda c: texture[int(c[0]), int(c[1])])

    # Edits that need detail (blurring a flat area changes nothing) choose their places first.
    for kind in ("blur", "removal", "moved-object", "copy-move", "recolour", "brightness", "thin-line"):
        for _attempt in range(400):
            r = rng.uniform(0.02, 0.045) * diag
            cy, cx = centre_in(r, detail=kind in ("removal", "moved-object", "blur"))
            if kind == "thin-line":
                edited, region = _thin_line(out, (cy, cx), rng.uniform(0.06, 0.12) * diag, rng)
            else:
                region = blob((h, w), (cy, cx), r, rng)
                extra = {}
                if kind == "moved-object":
                    step = rng.uniform(0.5, 0.9) * r
                    angle = rng.uniform(0, 2 * np.pi)
                    extra["offset"] = (round(step * math.sin(angle)), round(step * math.cos(angle)))
                    region_all = region | np.roll(region, extra["offset"], axis=(0, 1))
                elif kind == "copy-move":
                    sy, sx = centre_in(r, detail=True)
                    extra["source_offset"] = (round(cy - sy), round(cx - sx))
                    source = np.roll(region, (-extra["source_offset"][0], -extra["source_offset"][1]), axis=(0, 1))
                    if (source & region).any():
                        continue
                    region_all = region
                else:
                    region_all = region
                if not free(mask_box(region_all)):
                    continue
                edited = EDITS[kind](out, region, rng, **extra).astype(np.float32)
                region = region_all
            change = np.abs(_to_u8(edited).astype(np.int16) - _to_u8(out).astype(np.int16)).max(2)
            changed = change > 0
            touched = mask_box(changed | region)
            if not free(touched):
                continue
            if (changed & region).sum() < 0.6 * region.sum() or change[region].mean() / 255.0 < 0.05:
                continue
            out = edited
            edits.append(Edit(kind, changed))
            taken.append(touched)
            break
        else:
            raise RuntimeError(f"could not place a visible {kind} edit")
    b = _to_u8(out)
    # Every changed pixel belongs to exactly one edit: edits keep apart, so none undoes another.
    truth = (b != image).any(2)
    recorded = np.logical_or.reduce([e.mask for e in edits])
    if not np.array_equal(truth, recorded):
        raise RuntimeError("the edits' masks do not add up to the change mask")
    return b, edits


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float64) / 255.0 + rng.normal(0.0, sigma, image.shape)
    return _to_u8(noisy)


def _translate(image: np.ndarray, dx: float, dy: float, interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    h, w = image.shape[:2]
    return cv2.warpAffine(image, matrix, (w, h), flags=interpolation, borderMode=cv2.BORDER_REFLECT_101)


def _resample(image: np.ndarray, factor: float, down: int) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=down)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def degrade(a: np.ndarray, b: np.ndarray, edits: list[Edit], track: str,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[Edit], dict[str, object]]:
    """Apply ``track`` to a pristine pair; returns A, B, the edits (moved if B moved) and facts."""
    if track == "pristine":
        return a, b, edits, {}
    if track in JPEG_QUALITY:
        qa, qb = JPEG_QUALITY[track]
        return _jpeg(a, qa), _jpeg(b, qb), edits, {"quality": [qa, qb]}
    if track in NOISE_SIGMA:
        sigma = NOISE_SIGMA[track]
        return _noisy(a, sigma, rng), _noisy(b, sigma, rng), edits, {"sigma": sigma}
    if track in SHIFT_RANGE:
        dx, dy = (float(rng.uniform(*SHIFT_RANGE[track]) * rng.choice([-1, 1])) for _ in range(2))
        moved = [Edit(e.kind, e.mask | (_translate(e.mask.astype(np.uint8), dx, dy, cv2.INTER_LINEAR) > 0))
                 for e in edits]
        return a, _translate(b, dx, dy), moved, {"dx": round(dx, 4), "dy": round(dy, 4)}
    if track == "resample":
        fa, fb = float(rng.uniform(*RESAMPLE_A)), float(rng.uniform(*RESAMPLE_B))
        return (_resample(a, fa, cv2.INTER_AREA), _resample(b, fb, cv2.INTER_LINEAR), edits,
                {"factor_a": round(fa, 4), "factor_b": round(fb, 4)})
    raise ValueError(f"unknown track {track!r}; tracks are {', '.join(ALL_TRACKS)}")


@lru_cache(maxsize=2)
def _pristine(image: str, variant: int, seed: int, max_side: int) -> tuple[np.ndarray, np.ndarray, list[Edit]]:
    a = SOURCES[image].load(max_side)
    b, edits = plant_edits(a, _rng(seed, list(SOURCES).index(image), variant))
    return a, b, edits


def make_pair(image: str, variant: int = 0, track: str = "pristine", seed: int = 0, max_side: int = MAX_SIDE) -> Pair:
    """The pair ``variant`` of ``image`` in ``track``; a pure function of its arguments.

    ``max_side`` scales the source image down first (the smoke test uses small pairs).
    """
    if image not in SOURCES:
        raise ValueError(f"unknown image {image!r}; images are {', '.join(SOURCES)}")
    if track not in ALL_TRACKS:
        raise ValueError(f"unknown track {track!r}; tracks are {', '.join(ALL_TRACKS)}")
    a, b, edits = _pristine(image, int(variant), int(seed), int(max_side))
    edits = [Edit(e.kind, e.mask.copy()) for e in edits]
    rng = _rng(seed, list(SOURCES).index(image), variant, 1 + ALL_TRACKS.index(track))
    a, b, edits, info = degrade(a.copy(), b.copy(), edits, track, rng)
    truth = np.zeros(a.shape[:2], bool)
    for edit in edits:
        truth |= edit.mask
    return Pair(f"{image}-{variant}-{track}", image, track, variant, a, b, truth, edits, info)


def images_of(split: str) -> list[str]:
    if split == "all":
        return list(SOURCES)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits are {', '.join(SPLITS)} or all")
    return [name for name, source in SOURCES.items() if source.split == split]


#: :func:`unchanged_pair`'s degradations, one per variant (cycled): every track but ``pristine``.
DEGRADED = ALL_TRACKS[1:]


def unchanged_pair(image: str, variant: int, seed: int = 0, max_side: int = MAX_SIDE
                   ) -> tuple[np.ndarray, np.ndarray, str]:
    """A and B of :func:`make_pair`'s pair ``variant`` of ``image`` in the degraded track
    ``DEGRADED[variant]`` (cycled) without its edits: the photograph degraded twice as that track
    degrades A and B (the same JPEG qualities, noise, move or resampling), nothing changed; and the
    track's name."""
    track = DEGRADED[variant % len(DEGRADED)]
    a = SOURCES[image].load(max_side)
    rng = _rng(seed, list(SOURCES).index(image), variant, 1 + ALL_TRACKS.index(track))
    a, b, _, _ = degrade(a.copy(), a.copy(), [], track, rng)
    return a, b, track


def generate(split: str = "test", variants: int = 3, tracks: Sequence[str] = TRACKS, seed: int = 0,
             images: Sequence[str] | None = None, max_side: int = MAX_SIDE) -> Iterator[Pair]:
    """Every pair of a split: each image, ``variants`` edit sets, each track."""
    for image in images or images_of(split):
        for variant in range(variants):
            for track in tracks:
                yield make_pair(image, variant, track, seed, max_side)


def write_pair(pair: Pair, directory: Path, licence: str | None = None) -> dict[str, object]:
    """Write ``NAME.a.png``, ``NAME.b.png`` and ``NAME.truth.png``; returns the pair's record.

    ``licence`` is the source's (default: the photograph's, from :data:`SOURCES`).
    """
    directory.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pair.a).save(directory / f"{pair.name}.a.png")
    Image.fromarray(pair.b).save(directory / f"{pair.name}.b.png")
    Image.fromarray(pair.truth.astype(np.uint8) * 255).save(directory / f"{pair.name}.truth.png")
    return {
        "name": pair.name, "image": pair.image, "licence": licence or SOURCES[pair.image].licence, "track": pair.track,
        "variant": pair.variant, "info": pair.info, "sha256": pair.digest(),
        "edits": [{"kind": e.kind, "box": list(e.box), "pixels": int(e.mask.sum())} for e in pair.edits],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write spot-the-difference pairs with exact change masks.")
    parser.add_argument("out", type=Path, help="folder for NAME.a.png, NAME.b.png, NAME.truth.png, pairs.json")
    parser.add_argument("--split", default="test", choices=(*SPLITS, "all"))
    parser.add_argument("--variants", type=int, default=3, help="edit sets per image")
    parser.add_argument("--tracks", default=",".join(TRACKS), help="comma-separated tracks")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    records = [write_pair(p, args.out) for p in generate(args.split, args.variants, args.tracks.split(","), args.seed)]
    (args.out / "pairs.json").write_text(json.dumps(records, indent=1) + "\n")
    print(f"wrote {len(records)} pairs to {args.out}")


if __name__ == "__main__":
    main()
