"""Write the sample pair of ``samples/``: a spot-the-difference pair made by the benchmark generator.

    python -m benchmarks.quality.samples

writes ``samples/a.png``, ``samples/b.png`` (seven planted edits), ``samples/truth.png`` (the
exact change mask, 0/255), ``samples/b_shifted.png`` (B misaligned by a known small similarity
transform, for alignment), ``samples/transform.json`` (that transform) and
``samples/README.md``. Every byte follows from the arguments.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.quality.pairs import SOURCES, make_pair

IMAGE, VARIANT, SIDE = "coffee", 0, 420
#: B is turned by this many degrees and scaled about the image centre, then moved by (dx, dy) px.
ANGLE, SCALE, SHIFT = 0.6, 1.01, (2.3, -1.7)


def misalign(image: np.ndarray, angle: float = ANGLE, scale: float = SCALE,
             shift: tuple[float, float] = SHIFT) -> tuple[np.ndarray, np.ndarray]:
    """``image`` warped by a rotation and scale about its centre and a translation (bicubic).

    Returns the warped image and the 2x3 matrix mapping a pixel of the original to the warped one.
    """
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
    matrix[:, 2] += shift
    warped = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    return warped, matrix


README = """# Sample pair

A spot-the-difference pair made by dfind's quality-benchmark generator
(`benchmarks/quality/pairs.py`) from scikit-image's `{image}` photograph
(`skimage.data.{image}()`, {licence}), scaled to {width}x{height}.

| file | what |
|---|---|
| `a.png` | the original |
| `b.png` | the same with seven planted differences: {kinds} |
| `truth.png` | the exact change mask: 255 where `a.png` and `b.png` differ, 0 elsewhere |
| `b_shifted.png` | `b.png` misaligned on purpose: turned by {angle} degrees and scaled by {scale} about the centre, then moved by ({dx}, {dy}) px (bicubic) |
| `transform.json` | that transform as a 2x3 matrix taking a pixel of `b.png` to `b_shifted.png` |
| `pairs.csv` | the two pairs (`a.png` with `b.png`, and with `b_shifted.png`) for a folder run |

Try it:

```
dfind samples/a.png samples/b.png -o out
dfind samples/a.png samples/b_shifted.png -p align -o aligned
dfind --pairs samples/pairs.csv -o maps
```

Regenerate every file (the same bytes each time) with

```
python -m benchmarks.quality.samples
```
"""


def write(out: Path) -> list[Path]:
    pair = make_pair(IMAGE, VARIANT, "pristine", max_side=SIDE)
    shifted, matrix = misalign(pair.b)
    out.mkdir(parents=True, exist_ok=True)
    files = {"a.png": pair.a, "b.png": pair.b, "truth.png": pair.truth.astype(np.uint8) * 255, "b_shifted.png": shifted}
    written = []
    for name, array in files.items():
        Image.fromarray(array).save(out / name, optimize=True)
        written.append(out / name)
    transform = {
        "matrix": [[round(float(v), 9) for v in row] for row in matrix],
        "angle_degrees": ANGLE, "scale": SCALE, "shift": list(SHIFT),
        "centre": [(pair.a.shape[1] - 1) / 2, (pair.a.shape[0] - 1) / 2],
        "convention": "x' = M @ [x, y, 1] maps a pixel of b.png to b_shifted.png (OpenCV warpAffine)",
        "edits": [{"kind": e.kind, "box_xyxy": list(e.box)} for e in pair.edits],
    }
    (out / "transform.json").write_text(json.dumps(transform, indent=1) + "\n")
    readme = README.format(image=IMAGE, licence=SOURCES[IMAGE].licence, width=pair.a.shape[1],
                           height=pair.a.shape[0], kinds=", ".join(sorted(e.kind for e in pair.edits)),
                           angle=ANGLE, scale=SCALE, dx=SHIFT[0], dy=SHIFT[1])
    (out / "README.md").write_text(readme)
    (out / "pairs.csv").write_text("a,b,name\na.png,b.png,planted\na.png,b_shifted.png,misaligned\n")
    return [*written, out / "transform.json", out / "README.md", out / "pairs.csv"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the sample spot-the-difference pair.")
    parser.add_argument("--out", type=Path, default=Path("samples"))
    args = parser.parse_args(argv)
    files = write(args.out)
    total = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files to {args.out} ({math.ceil(total / 1024)} KB)")


if __name__ == "__main__":
    main()
