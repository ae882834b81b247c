"""The ``photos`` tracks: photographs the packages ship, saved by other JPEG encoders.

Sources are photographs installed with the benchmark's packages and used by no other split:

=============== ======= =================================================================
china           dev     scikit-learn's ``load_sample_images`` (china.jpg): CC BY 2.0,
                        danielbuechele on Flickr (scikit-learn's images README)
moon            dev     scikit-image's ``data.moon()`` (its loader states no licence)
flower          test    scikit-learn's ``load_sample_images`` (flower.jpg): CC BY 2.0,
                        vultilion on Flickr (scikit-learn's images README)
grace_hopper    test    matplotlib's sample data (grace_hopper.jpg): a U.S. Navy
                        photograph, public domain
motorcycle      test    scikit-image's ``data.stereo_motorcycle()``, left view: the
                        Middlebury 2014 stereo data set (Scharstein et al., GCPR 2014); its
                        loader states no licence
=============== ======= =================================================================

scikit-image's ``data.cell()`` (CC0) was tried and left out: it is too smooth for the
blur edit to show anywhere. The images are read from the installed packages at run time
and never stored in the repository.

Each is scaled so its long side is at most 640 px (area) and gets the seven edits of
:func:`benchmarks.quality.pairs.plant_edits`; the truth is exact as there (the pixels whose
8-bit values the edits changed). In ``photos-pristine`` A and B are kept lossless. In
``photos`` A and B are each saved and decoded by a different JPEG encoder or setting, by
variant (:data:`ENCODINGS`): Pillow (libjpeg-turbo) against OpenCV's encoder, 4:4:4
against 4:2:0 chroma subsampling, progressive and optimised Huffman tables, qualities from
75 to 95, and WebP (Pillow's libwebp) where Pillow has it. The truth stays the edits' pixels:
the encoders' differences are what a map should not report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, features

from benchmarks.quality import real
from benchmarks.quality.pairs import MAX_SIDE, Pair, plant_edits


@dataclass(frozen=True)
class Encoding:
    """A lossy save: ``pillow`` (JPEG), ``opencv`` (JPEG) or ``webp`` (Pillow), and its settings."""

    encoder: str
    quality: int
    subsampling: str = "4:2:0"
    progressive: bool = False
    optimize: bool = False

    def __str__(self) -> str:
        extra = "".join(f",{flag}" for flag, on in (("progressive", self.progressive), ("optimised", self.optimize))
                        if on)
        sub = f",{self.subsampling}" if self.encoder != "webp" else ""
        return f"{self.encoder}:q{self.quality}{sub}{extra}"

    def apply(self, image: np.ndarray) -> np.ndarray:
        """``image`` (HxWx3 uint8 RGB) saved and decoded."""
        if self.encoder == "opencv":
            factor = {"4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                    [cv2.IMWRITE_JPEG_QUALITY, self.quality,
                                     cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor[self.subsampling],
                                     cv2.IMWRITE_JPEG_PROGRESSIVE, int(self.progressive),
                                     cv2.IMWRITE_JPEG_OPTIMIZE, int(self.optimize)])
            if not ok:
                raise RuntimeError(f"OpenCV could not encode {self}")
            return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        buffer = io.BytesIO()
        if self.encoder == "webp":
            Image.fromarray(image).save(buffer, format="WEBP", quality=self.quality, method=4)
        else:
            Image.fromarray(image).save(buffer, format="JPEG", quality=self.quality, progressive=self.progressive,
                                        optimize=self.optimize, subsampling=self.subsampling)
        return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


WEBP = features.check("webp")
#: (A's encoding, B's) by variant, cycled.
ENCODINGS = (
    (Encoding("pillow", 92, "4:4:4", optimize=True), Encoding("opencv", 80, "4:2:0")),
    (Encoding("opencv", 90, "4:4:4"), Encoding("pillow", 85, "4:2:0", progressive=True)),
    (Encoding("pillow", 95, "4:2:0"), Encoding("webp", 80) if WEBP else Encoding("opencv", 75, "4:2:0")),
    (Encoding("opencv", 95, "4:2:0", progressive=True), Encoding("pillow", 75, "4:4:4", optimize=True)),
)


def _load(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    if name == "grace_hopper":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
            return np.asarray(Image.open(handle).convert("RGB"))
    import skimage.data

    if name == "motorcycle":
        return np.asarray(skimage.data.stereo_motorcycle()[0])
    return np.asarray(getattr(skimage.data, name)())


SOURCES = {s.name: s for s in (
    real.Source("china", "dev", "CC BY 2.0 (danielbuechele, Flickr; scikit-learn sample image)"),
    real.Source("moon", "dev", "not stated (scikit-image sample data)"),
    real.Source("flower", "test", "CC BY 2.0 (vultilion, Flickr; scikit-learn sample image)"),
    real.Source("grace_hopper", "test", "public domain (U.S. Navy photograph; matplotlib sample data)"),
    real.Source("motorcycle", "test", "not stated (Middlebury 2014 stereo data, left view; scikit-image sample data)"),
)}


def load(name: str, max_side: int = MAX_SIDE) -> np.ndarray:
    """Source ``name`` as HxWx3 uint8 RGB, long side at most ``max_side`` (area)."""
    image = _load(name)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3].astype(np.uint8))
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    return image


def unchanged_pair(source: str, variant: int, seed: int = 0, max_side: int = MAX_SIDE
                   ) -> tuple[np.ndarray, np.ndarray, str]:
    """A and B of :func:`make_pair`'s degraded pair ``variant`` without its edits: the photograph
    saved by A's and by B's encoder, nothing changed; and the two encoders (``seed`` unused: the
    edits alone are drawn from it)."""
    a = load(source, max_side)
    enc_a, enc_b = ENCODINGS[variant % len(ENCODINGS)]
    return enc_a.apply(a), enc_b.apply(a), f"{enc_a} / {enc_b}"


def make_pair(source: str, variant: int, degraded: bool, seed: int = 0, max_side: int = MAX_SIDE) -> Pair:
    """The pair ``variant`` of photograph ``source``; A and B re-encoded differently when ``degraded``."""
    key = list(SOURCES).index(source)
    a = load(source, max_side)
    b, edits = plant_edits(a, real.rng(seed, 401, key, variant))
    truth = np.logical_or.reduce([e.mask for e in edits])
    info: dict[str, str] = {}
    if degraded:
        enc_a, enc_b = ENCODINGS[variant % len(ENCODINGS)]
        a, b = enc_a.apply(a), enc_b.apply(b)
        info = {"a": str(enc_a), "b": str(enc_b)}
    track = "photos" if degraded else "photos-pristine"
    return Pair(f"{source}-{variant}-{track}", source, track, variant, a, b, truth, edits, info)
