"""The default pipeline's maps, facts and regions on a set of pairs: saved by one version, compared by another.

    python benchmarks/default_maps.py save before.pt      # on the code before a change
    python benchmarks/default_maps.py compare before.pt   # on the code after it

A speed change to the default map must not change what it finds: for each pair this prints the
largest map difference relative to the map's peak, the largest per-pixel relative difference
(pixels above a thousandth of the peak), whether the regions' boxes are the same, and which of
the strategy's and the regions' facts differ. The pairs: the repository's sample pair (and its shifted
B), the speed benchmark's noisy 1024 px pair, the quality benchmark's retina pair at 1024 px on
each track (lossless, JPEG, noise, shift, resample), that pair turned by 1.8 degrees (``register``
resamples it) and a batch of two. ``tests/builtin/test_difference_options.py`` holds the cheap
form of this check (the default map against its unoptimised form on small pairs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pairs() -> dict[str, tuple]:
    import numpy as np
    import torch
    from PIL import Image

    from benchmarks.quality.pairs import make_pair
    from benchmarks.run import pair_tensors, turned

    def tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255

    def load(name: str) -> torch.Tensor:
        return tensor(np.asarray(Image.open(ROOT / "samples" / name).convert("RGB")))

    found = {"samples": (load("a.png"), load("b.png")), "samples, B shifted": (load("a.png"), load("b_shifted.png")),
             "noisy 1024 px": pair_tensors(1024)}
    for track in ("pristine", "jpeg", "noise", "shift", "resample"):
        pair = make_pair("retina", 0, track, max_side=1024)
        found[f"retina {track}"] = (tensor(pair.a), tensor(pair.b))
    a = found["retina pristine"][0]
    found["retina turned"] = (a, turned(a))
    (a1, b1), (a2, b2) = found["noisy 1024 px"], found["retina pristine"]
    found["a batch of two"] = (torch.cat([a1, a2]), torch.cat([b1, b2]))
    return found


def changed_facts(old: object, new: object, key: str = "") -> list[str]:
    """The facts (``stage.fact``, per sample) whose values differ between two outputs' infos."""
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return sorted({fact for o, n in zip(old, new) for fact in changed_facts(o, n, key)})
    if isinstance(old, dict) and isinstance(new, dict) and key.count(".") < 1:
        return [fact for name in sorted(old.keys() | new.keys())
                for fact in changed_facts(old.get(name), new.get(name), f"{key}.{name}" if key else name)]
    return [] if old == new else [key or "info"]


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "compare"):
        raise SystemExit(__doc__.split("\n\n")[1])
    import torch

    from dfcore import Finder

    finder = Finder(device="cpu")
    found = {}
    for name, (a, b) in pairs().items():
        output = finder.compute(a, b).output
        found[name] = {"map": output.map, "info": json.dumps(output.info, sort_keys=True, default=str),
                       "regions": [[(r.bbox, r.area) for r in sample] for sample in output.regions]}
    path = Path(sys.argv[2])
    if sys.argv[1] == "save":
        torch.save(found, path)
        print(f"saved {len(found)} pairs to {path}")
        return
    before, worst = torch.load(path), 0.0
    for name, now in found.items():
        old, new = before[name]["map"].double(), now["map"].double()
        peak = float(old.abs().max())
        relative = float((new - old).abs().max()) / peak if peak else float((new - old).abs().max())
        bright = old.abs() > 1e-3 * peak
        per_pixel = float(((new - old).abs()[bright] / old.abs()[bright]).max()) if bool(bright.any()) else 0.0
        facts = changed_facts(json.loads(before[name]["info"]), json.loads(now["info"]))
        regions = "regions the same" if now["regions"] == before[name]["regions"] else "regions DIFFERENT"
        worst = max(worst, relative)
        print(f"{name:20s} max |diff| / peak {relative:.1e}   per pixel (> 1e-3 peak) {per_pixel:.1e}   {regions}, "
              + (f"facts DIFFERENT: {', '.join(facts)}" if facts else "facts the same"))
    print(f"largest difference relative to the peak: {worst:.1e}")


if __name__ == "__main__":
    main()
