"""dfind's speed and memory benchmarks: ``python benchmarks/run.py`` prints markdown tables.

Sections (``--only a,b`` runs some of them):

* ``pairs``   -- milliseconds per pair at 512, 1024 and 2048 px for each strategy x metric
                 (``Finder.run`` on tensors in memory: the pipeline without file I/O).
* ``default`` -- the default pipeline against plain ``difference`` + ``mse`` per pair at 1024 px
                 (``Finder.compute`` on tensors, round-robin), and its time step by step.
* ``pages``   -- the default on three pages drawn again (640x480), with and without its glyph
                 windows, and plain ``difference`` + ``mse``.
* ``ssim``    -- gradient+ssim on a 1024x1024 RGB pair against autograd through
                 ``pytorch_msssim.ssim(data_range=1.0)``: the eager closed form, the fused
                 kernel by ``torch.compile`` and as the C++ kernel (``DFIND_COMPILE=1``; dfind's
                 kernel cache, ``DFIND_CACHE_DIR``, is used), wall time with torch's threads and
                 CPU time on one thread, and how far the maps differ. Other sections run eager.
* ``batch``   -- pairs per second on 200 PNG pairs of 512 px, gradient+ssim, files written:
                 the folder engine against ``Finder.run`` + ``save`` in a Python loop.
* ``io``      -- ``difference`` against the I/O floor (decode two PNGs, write the outputs).
* ``lpips``   -- lpips over 20 pairs with the network built once: where the time goes.
* ``decode``  -- decoding 200 PNGs with a thread pool against torch DataLoader processes.
* ``strips``  -- SSIM/MS-SSIM evaluated in strips against one pass: largest map difference.
* ``memory``  -- peak resident memory of one pair, each in a fresh process: metrics on tensors,
                 then the whole command (decode, compute, write) per pipeline in bytes per
                 pixel, and the default pipeline's peak on a 6000x6000 pair.
* ``startup`` -- ``dfind --list-plugins`` wall time.
* ``compile`` -- the fused SSIM kernel's first ``torch.compile`` call (cold, and from torch's on-disk
                 cache) and its speed against eager, for ssim and ms-ssim (off unless named).

LPIPS runs with AlexNet backbone weights created here at random (pretrained weights cannot
be downloaded on every machine); the network's cost does not depend on its weights. Every
figure is the median of ``--repeats`` runs after a warm-up; on a shared machine compare rows
of one run with each other, not with another machine's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("pairs", "default", "pages", "ssim", "batch", "io", "lpips", "decode", "strips", "memory", "startup")
METRICS = ("mse", "psnr", "ssim", "ms-ssim", "lpips")
STRATEGIES = ("difference", "gradient")


# -- helpers ------------------------------------------------------------------------------------


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def med(times: list[float]) -> float:
    return statistics.median(times)


def compare(variants: list[tuple[str, Callable[[], object]]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time each variant ``repeats`` times, round-robin, so that a busy spell hits all alike."""
    for _, fn in variants:
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {label: [] for label, _ in variants}
    for _ in range(repeats):
        for label, fn in variants:
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    return times


def ms(times: list[float], per: int = 1) -> str:
    """``median (min)`` in milliseconds, divided by ``per`` items."""
    return f"{med(times) * 1000 / per:.0f} ({min(times) * 1000 / per:.0f})"


def table(header: list[str], rows: list[list[object]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def pair_tensors(size: int, seed: int = 0):
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    a = F.interpolate(torch.rand(1, 3, size // 8, size // 8, generator=generator), size=(size, size),
                      mode="bicubic", align_corners=False).clamp(0, 1)
    b = (a + 0.05 * torch.randn(a.shape, generator=generator)).clamp(0, 1)
    b[..., size // 4: size // 2, size // 4: size // 2] = (b[..., size // 4: size // 2, size // 4: size // 2] + 0.2).clamp(0, 1)
    return a, b


def write_pngs(folder: Path, count: int, size: int) -> tuple[Path, Path]:
    import numpy as np
    from PIL import Image

    a_dir, b_dir = folder / "A", folder / "B"
    a_dir.mkdir(parents=True, exist_ok=True)
    b_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        base = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        a = Image.fromarray(base).resize((size, size), Image.BICUBIC)
        noise = rng.normal(0, 6, (size, size, 3))
        b = np.clip(np.asarray(a, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        a.save(a_dir / f"{index:04d}.png")
        Image.fromarray(b).save(b_dir / f"{index:04d}.png")
    return a_dir, b_dir


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="dfind-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_LPIPS_WEIGHTS: Path | None = None


def lpips_ref() -> str:
    """``lpips:weights=...`` with a random AlexNet state dict saved once per run."""
    global _LPIPS_WEIGHTS
    if _LPIPS_WEIGHTS is None:
        import torch
        import torchvision

        torch.manual_seed(0)
        path = Path(tempfile.gettempdir()) / "dfind-bench-alexnet-random.pth"
        torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
        _LPIPS_WEIGHTS = path
    return f"lpips:weights={_LPIPS_WEIGHTS}"


def metric_ref(name: str) -> str:
    return lpips_ref() if name == "lpips" else name


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} logical cores{memory}{load}; Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")


# -- sections ---------------------------------------------------------------------------------


def bench_pairs(repeats: int) -> str:
    from dfcore import Finder

    rows = []
    inputs = {size: pair_tensors(size) for size in (512, 1024, 2048)}
    for metric in METRICS:
        for strategy in STRATEGIES:
            finder = Finder(metric=metric_ref(metric), strategy=strategy, device="cpu")
            row: list[object] = [strategy, metric]
            for a, b in inputs.values():
                row.append(ms(timed(lambda f=finder, x=a, y=b: f.run(x, y), repeats)))
            rows.append(row)
            print(f"  pairs: {strategy}+{metric} done", file=sys.stderr)
    return table(["strategy", "metric", "512 px", "1024 px", "2048 px"], rows)


def with_compile(mode: str, fn: Callable[[], object], native: bool = True) -> Callable[[], object]:
    """``fn`` run with ``DFIND_COMPILE=mode``: ``"0"`` the eager closed form, ``"1"`` the fused kernel
    compiled: the C++ kernel on the CPU in float32, or with ``native=False`` ``torch.compile``'s."""
    from dfplugins_builtin.metrics.ssim_fused import KERNELS

    def run() -> object:
        previous = os.environ.get("DFIND_COMPILE")
        os.environ["DFIND_COMPILE"] = mode
        failed = KERNELS.native_failed
        if not native:
            KERNELS.native_failed = "not in this variant"
        try:
            return fn()
        finally:
            os.environ["DFIND_COMPILE"] = previous if previous is not None else "0"
            KERNELS.native_failed = failed
    return run


def thread_cpu(variants: list[tuple[str, Callable[[], object]]], repeats: int) -> dict[str, list[float]]:
    """CPU seconds of this thread per call, round-robin, with torch on one thread.

    On a machine shared with other work, wall time swings with the others' load (and two
    OpenMP threads wait for each other when one is descheduled); one thread's CPU time does
    not count the time it waits, so it compares variants more steadily.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _, fn in variants:
            fn()
        times: dict[str, list[float]] = {label: [] for label, _ in variants}
        for _ in range(repeats):
            for label, fn in variants:
                start = time.thread_time()
                fn()
                times[label].append(time.thread_time() - start)
        return times
    finally:
        torch.set_num_threads(threads)


def bench_ssim(repeats: int) -> str:
    import torch
    from pytorch_msssim import ssim as reference_ssim

    from dfcore import Finder
    from dfplugins_builtin.metrics.ssim import ssim as our_ssim

    a, b = pair_tensors(1024)
    finder = Finder(metric="ssim", strategy="gradient:signed=true", device="cpu")

    def autograd_reference(x=a, y=b):
        moving = y.clone().requires_grad_(True)
        value = reference_ssim(x, moving, data_range=1.0, size_average=False)
        return torch.autograd.grad(value.sum(), moving)[0]

    def gradient_alone():
        moving = b.clone().requires_grad_(True)
        return torch.autograd.grad(our_ssim(a, moving).sum(), moving)[0]

    start = time.perf_counter()
    with_compile("1", lambda: finder.compute(a, b))()  # builds the C++ kernel (or loads it from dfind's cache)
    first_native = time.perf_counter() - start
    start = time.perf_counter()
    with_compile("1", lambda: finder.compute(a, b), native=False)()  # compiles (or loads torch's on-disk cache)
    first = time.perf_counter() - start
    variants = [("autograd through pytorch_msssim.ssim (the gradient alone)", autograd_reference),
                ("dfind eager: the gradient alone (ssim backward)", with_compile("0", gradient_alone)),
                ("dfind eager: Finder.compute (score and map)", with_compile("0", lambda: finder.compute(a, b))),
                ("dfind torch.compile: the gradient alone", with_compile("1", gradient_alone, native=False)),
                ("dfind torch.compile: Finder.compute (score and map)",
                 with_compile("1", lambda: finder.compute(a, b), native=False)),
                ("dfind C++ kernel: the gradient alone", with_compile("1", gradient_alone)),
                ("dfind C++ kernel: Finder.compute (score and map)", with_compile("1", lambda: finder.compute(a, b))),
                ("dfind C++ kernel: Finder.run (and the map as numpy)", with_compile("1", lambda: finder.run(a, b)))]
    times = compare(variants, repeats)
    cpu = thread_cpu(variants[:-1], repeats)
    base, cpu_base = med(times[variants[0][0]]), med(cpu[variants[0][0]])
    rows = [[label, ms(t), f"{base / med(t):.2f}x",
             f"{med(cpu[label]) * 1000:.0f}" if label in cpu else "", f"{cpu_base / med(cpu[label]):.2f}x"
             if label in cpu else ""] for label, t in times.items()]
    speed = table(["1024x1024 RGB pair", "ms: median (min)", "speed-up", "1 thread: CPU ms", "speed-up"], rows)
    # Both float32 maps against float64 (our float64 gradient equals pytorch_msssim's to 1e-14: tests).
    a64, b64 = a.double(), b.double()
    moving = b64.clone().requires_grad_(True)
    truth = -torch.autograd.grad(with_compile("0", lambda: our_ssim(a64, moving))().sum(), moving)[0].mean(1)
    reference = -autograd_reference().mean(1).double()
    maps = {"eager": with_compile("0", lambda: finder.compute(a, b))().output.map[:, 0].double(),
            "compiled": with_compile("1", lambda: finder.compute(a, b), native=False)().output.map[:, 0].double(),
            "C++": with_compile("1", lambda: finder.compute(a, b))().output.map[:, 0].double()}
    scale = float(truth.abs().max())

    def row(label: str, mine: torch.Tensor, other: torch.Tensor) -> list[str]:
        difference = float((mine - other).abs().max())
        return [label, f"{difference:.1e}", f"{difference / scale:.1e}"]

    agreement = table(["map (d(-ssim)/db, channels averaged)", "max abs difference", "relative to max |map|"], [
        row("dfind eager against pytorch_msssim (both float32)", maps["eager"], reference),
        row("dfind torch.compile against pytorch_msssim (both float32)", maps["compiled"], reference),
        row("dfind C++ kernel against pytorch_msssim (both float32)", maps["C++"], reference),
        row("dfind torch.compile against dfind eager (both float32)", maps["compiled"], maps["eager"]),
        row("dfind C++ kernel against dfind eager (both float32)", maps["C++"], maps["eager"]),
        row("dfind eager float32 against float64", maps["eager"], truth),
        row("dfind torch.compile float32 against float64", maps["compiled"], truth),
        row("dfind C++ kernel float32 against float64", maps["C++"], truth),
        row("pytorch_msssim float32 against float64", reference, truth),
    ])
    return (speed + f"\n\n(first calls in this process: the C++ kernel, building it or loading dfind's cache, "
                    f"{first_native:.2f} s; torch.compile, compiling or loading torch's cache, {first:.1f} s)\n\n"
            + agreement)


def decoded_tensor(image):
    """An HxWx3 uint8 array as a 1x3xHxW float tensor in [0, 1], channels-last in memory as a decoder gives it."""
    import torch

    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255


def default_pairs(size: int = 1024) -> dict[str, tuple]:
    """The pairs the ``default`` section times: a noisy photograph (not lossless: its registration
    is measured), the quality benchmark's retina pair with its seven planted edits, channels-last as
    the decoder gives it, re-encoded as JPEG (its field settles that it is aligned), lossless,
    shifted (its frame's edge left out: the map smoothed with a mask) and turned (registered and
    resampled), and a lossless full-HD pair."""

    from benchmarks.quality.pairs import make_pair

    pair, shifted, encoded = (make_pair("retina", 0, track, max_side=size)
                              for track in ("pristine", "shift", "jpeg"))
    a = decoded_tensor(pair.a)
    return {"noisy, planar (registration measured)": pair_tensors(size),
            "JPEG re-encoded, 7 edits (field: aligned)": (decoded_tensor(encoded.a), decoded_tensor(encoded.b)),
            "lossless, 7 edits, channels-last as decoded": (a, decoded_tensor(pair.b)),
            "lossless 1920x1080, 5 edits in one corner": tuple(decoded_tensor(image) for image in full_hd_pair()),
            "shifted 2/3 px, 7 edits (edge margin)": (decoded_tensor(shifted.a), decoded_tensor(shifted.b)),
            "A turned 1.8 deg, nothing else (registered)": (a, turned(a))}


def turned(image):
    """``image`` (1xCxHxW) turned by 1.8 degrees and moved by a fraction of a pixel, bicubic: a
    rescanned page's misregistration, which the default's ``register=auto`` resamples."""
    import torch
    import torch.nn.functional as F

    theta = torch.tensor([[[0.9995, -0.0314, 0.002], [0.0314, 0.9995, -0.003]]], dtype=image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bicubic", align_corners=False).clamp(0, 1)


def full_hd_pair() -> tuple:
    """A lossless 1920x1080 pair whose changes lie in one corner, as a screenshot test's do: the
    quality benchmark's drawn scene (``garden``, 640x480, five edits) tiled, the edits in the first
    tile only."""
    import numpy as np

    from benchmarks.quality.real import make_pair as real_pair

    scene = real_pair("drawn-pristine", "garden")
    a = np.tile(scene.a, (3, 3, 1))[:1080, :1920]
    b = a.copy()
    b[:scene.b.shape[0], :scene.b.shape[1]] = scene.b
    return a, b


#: The default strategy's steps, timed one by one in the ``default`` section's breakdown.
DEFAULT_STEPS = (("measure: lossless test (exact=auto)", "Difference", "_measure"),
                 ("register=auto: tile phase correlation, affine fit", "Difference", "_register"),
                 ("shift=auto: global phase correlation", "module", "estimate_translation"),
                 ("local map: range tolerance, smoothing, 4 scales", "Difference", "_in_strips"),
                 ("background level", "module", "background_normalise"),
                 ("exact ranking", "Difference", "_rank_exact"))


def bench_default(repeats: int) -> str:
    """The default pipeline against plain |a-b| (``difference`` + ``mse``) per pair at 1024 px (and a
    lossless full-HD pair), in one process, round-robin; then where the default's time goes, step by step."""
    from dfcore import Finder
    from dfplugins_builtin.strategies import difference as module

    default, plain = Finder(device="cpu"), Finder(metric="mse", strategy="difference", device="cpu")
    rows, breakdown = [], {}
    for name, (a, b) in default_pairs().items():
        variants = [("plain", lambda x=a, y=b: plain.compute(x, y)), ("default", lambda x=a, y=b: default.compute(x, y))]
        times, cpu = compare(variants, repeats), thread_cpu(variants, repeats)
        ratios = [d / p for d, p in zip(times["default"], times["plain"])]
        rows.append([name, ms(times["plain"]), ms(times["default"]), f"{med(ratios):.2f}x ({min(ratios):.2f}x)",
                     f"{med(cpu['plain']) * 1000:.0f}", f"{med(cpu['default']) * 1000:.0f}",
                     f"{med(cpu['default']) / med(cpu['plain']):.2f}x"])
        spent: dict[str, list[float]] = {}
        originals = []
        for label, owner, attribute in DEFAULT_STEPS:
            target = module.Difference if owner == "Difference" else module
            original = getattr(target, attribute)
            originals.append((target, attribute, original))

            def timed_step(*args, _fn=original, _label=label, _spent=spent, **kwargs):
                start = time.perf_counter()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    _spent.setdefault(_label, []).append(time.perf_counter() - start)
            setattr(target, attribute, timed_step)
        total, post = [], []
        try:
            for _ in range(repeats):
                start = time.perf_counter()
                computed = default.compute(a, b, postprocess=False)
                middle = time.perf_counter()
                default.postprocess(computed.output.replace(images=(computed.a, computed.b)))  # as compute does
                total.append(time.perf_counter() - start)
                post.append(time.perf_counter() - middle)
        finally:
            for target, attribute, original in originals:
                setattr(target, attribute, original)
        steps = {label: sum(values) / repeats for label, values in spent.items()}
        steps["regions postprocessor"] = med(post)
        steps["the rest (checks, score, conventions)"] = med(total) - sum(steps.values())
        breakdown[name] = steps
    speed = table(["RGB pair (1024x1024 unless said)", "plain |a-b| ms", "default ms", "default / plain: median (best)",
                   "1 thread: plain CPU ms", "default CPU ms", "ratio"], rows)
    labels = list(dict.fromkeys(label for steps in breakdown.values() for label in steps))
    steps_table = table(["default's step (mean ms per pair)", *breakdown],
                        [[label, *(f"{steps.get(label, 0.0) * 1000:.0f}" for steps in breakdown.values())]
                         for label in labels])
    return speed + "\n\n" + steps_table


#: The development pages the ``pages`` section times (the quality benchmark's ``screens`` track).
PAGES = ("dashboard", "form", "article")


def bench_pages(repeats: int) -> str:
    """The default on pages drawn again (the quality benchmark's development pages, 640x480, B with
    other hinting or device scale), against the default without its glyph windows and plain
    |a-b|; ``Finder.compute`` on tensors, round-robin."""

    from benchmarks.quality.real import make_pair
    from dfcore import Finder
    from dfplugins_builtin import plugin

    stages = next(preset for preset in plugin.dfind_presets() if preset.name == "default").stages
    # the default's own stages but the windows: a strategy named alone would drop its postprocessor
    without = Finder(strategy=re.sub(r",(rendered_window|window_slack|window_glyphs)=[^,]*", "", stages["strategy"]),
                     postprocessor=stages["postprocessor"], device="cpu")
    default, plain = Finder(device="cpu"), Finder(metric="mse", strategy="difference", device="cpu")
    assert without.config["strategy"]["params"]["rendered_window"] == 0
    assert without.config["postprocessor"] == default.config["postprocessor"]
    rows = []
    for source in PAGES:
        pair = make_pair("screens", source)
        a, b = decoded_tensor(pair.a), decoded_tensor(pair.b)
        times = compare([(label, lambda f=finder, x=a, y=b: f.compute(x, y))
                         for label, finder in (("plain", plain), ("without", without), ("default", default))], repeats)
        ratios = [d / w for d, w in zip(times["default"], times["without"])]
        rows.append([f"{source} ({pair.a.shape[1]}x{pair.a.shape[0]})", ms(times["plain"]), ms(times["without"]),
                     ms(times["default"]), f"{med(ratios):.2f}x ({min(ratios):.2f}x)"])
    return table(["page drawn again", "plain |a-b| ms", "default without glyph windows ms", "default ms",
                  "default / without: median (best)"], rows)


def bench_batch(repeats: int, pairs: int = 200, size: int = 512) -> str:
    from dfcore import Finder

    with scratch() as folder:
        dir_a, dir_b = write_pngs(folder, pairs, size)
        finder = Finder(metric="ssim", strategy="gradient", device="cpu")
        names = sorted(p.name for p in dir_a.iterdir())

        def loop():
            out = folder / "loop"
            shutil.rmtree(out, ignore_errors=True)
            for name in names:
                finder.run(dir_a / name, dir_b / name).save(out)

        def engine(batch_size: int, workers: int | None):
            out = folder / "engine"
            shutil.rmtree(out, ignore_errors=True)
            finder.run_dirs(dir_a, dir_b, batch_size=batch_size, workers=workers).save(out, progress=False)

        variants = [("Finder.run + save in a Python loop", loop)]
        for batch_size, workers in ((8, None), (1, None), (8, 0), (16, 2)):
            label = f"folder engine, batch {batch_size}, workers {workers if workers is not None else 'default'}"
            variants.append((label, lambda b=batch_size, w=workers: engine(b, w)))
        times = compare(variants, max(1, repeats - 2), warmup=0)
    return rate_table(f"{pairs} pairs of {size} px, gradient+ssim, files written", "pairs/s", pairs, times)


def rate_table(title: str, unit: str, count: int, times: dict[str, list[float]]) -> str:
    """Items per second (median, and best) of each variant, and its speed against the first."""
    base = med(next(iter(times.values())))
    rows = [[label, f"{count / med(t):.1f} ({count / min(t):.1f})", f"{base / med(t):.2f}x"]
            for label, t in times.items()]
    return table([title, f"{unit}: median (best)", "speed-up"], rows)


def bench_io(repeats: int, size: int = 1024, pairs: int = 10) -> str:
    from dfcore import Finder
    from dfcore.io.images import as_batch

    with scratch() as folder:
        dir_a, dir_b = write_pngs(folder, pairs, size)
        names = sorted(p.name for p in dir_a.iterdir())
        finder = Finder(metric="mse", strategy="difference", device="cpu")
        sample = finder.run(dir_a / names[0], dir_b / names[0])

        def floor():
            for name in names:
                as_batch(dir_a / name, "cpu")
                as_batch(dir_b / name, "cpu")
                sample.save(folder / "floor", name)

        def difference():
            for name in names:
                finder.run(dir_a / name, dir_b / name).save(folder / "diff")

        def engine():
            shutil.rmtree(folder / "engine", ignore_errors=True)
            finder.run_dirs(dir_a, dir_b).save(folder / "engine", progress=False)

        times = compare([("I/O floor: decode two PNGs, write heatmap, .npy, .json", floor),
                         ("difference (mse score): Finder.run + save, one by one", difference),
                         ("difference through the folder engine", engine)], repeats)
    floor_time = med(next(iter(times.values())))
    rows = [[label, ms(t, pairs), f"{med(t) / floor_time:.2f}x"] for label, t in times.items()]
    return table([f"{size} px RGB PNG pairs", "ms per pair: median (min)", "vs floor"], rows)


def bench_lpips(repeats: int, pairs: int = 20, size: int = 256) -> str:
    from dfcore import Finder
    from dfplugins_builtin.metrics import lpips as lpips_module

    rows = []
    with scratch() as folder:
        dir_a, dir_b = write_pngs(folder, pairs, size)
        ref = lpips_ref()
        lpips_module._networks.clear()
        start = time.perf_counter()
        finder = Finder(metric=ref, strategy="gradient", device="cpu")
        finder.metric.obj.model(finder.device)  # the network is loaded on first use
        build = time.perf_counter() - start
        start = time.perf_counter()
        report = finder.run_dirs(dir_a, dir_b).save(folder / "out", progress=False)
        total = time.perf_counter() - start
        compute = sum(r.seconds for r in report.rows)
        rows.append(["build the pipeline and load the network (once)", f"{build * 1000:.0f}"])
        rows.append([f"{pairs} pairs through the folder engine (decode, compute, write)", f"{total * 1000:.0f}"])
        rows.append(["  of which per pair, decode + compute (summary's seconds), mean",
                     f"{compute / pairs * 1000:.0f}"])
        names = sorted(p.name for p in dir_a.iterdir())[:5]
        start = time.perf_counter()
        for name in names:
            lpips_module._networks.clear()
            Finder(metric=ref, strategy="gradient", device="cpu").run(dir_a / name, dir_b / name)
        rebuilt = (time.perf_counter() - start) / len(names)
        rows.append(["per pair when the network is rebuilt every time (for comparison)", f"{rebuilt * 1000:.0f}"])
    return table([f"lpips (alex, random weights), gradient, {size} px", "ms"], rows)


def bench_decode(repeats: int, count: int = 200, size: int = 512) -> str:
    from concurrent.futures import ThreadPoolExecutor

    from torch.utils.data import DataLoader, Dataset

    from dfcore.io.images import as_batch

    class Files(Dataset):
        def __init__(self, paths):
            self.paths = paths

        def __len__(self):
            return len(self.paths)

        def __getitem__(self, index):
            return as_batch(self.paths[index], "cpu")[0]

    with scratch() as folder:
        dir_a, _ = write_pngs(folder, count, size)
        paths = sorted(dir_a.iterdir())

        def serial():
            for path in paths:
                as_batch(path, "cpu")

        def threads(n):
            with ThreadPoolExecutor(n) as pool:
                list(pool.map(lambda p: as_batch(p, "cpu"), paths))

        def loader(n):
            for _ in DataLoader(Files(paths), batch_size=None, num_workers=n, multiprocessing_context="fork"):
                pass

        variants = [("in the calling thread", serial)]
        variants += [(f"{n} threads", lambda n=n: threads(n)) for n in (1, 2, 4)]
        variants += [(f"DataLoader, {n} worker processes", lambda n=n: loader(n)) for n in (1, 2)]
        times = compare(variants, max(1, repeats // 2))
    return rate_table(f"decode {count} PNGs of {size} px", "images/s", count, times)


def bench_strips(repeats: int) -> str:
    import torch

    from dfplugins_builtin.metrics import ssim as S

    rows = []
    for name, fn, size in (("ssim", S.ssim, 1024), ("ms-ssim", S.ms_ssim, 1024), ("ssim", S.ssim, 2048)):
        a, b = pair_tensors(size)

        def grad(rows_per_strip, fn=fn, a=a, b=b):
            original = S._strip_rows
            if rows_per_strip is not None:
                S._strip_rows = lambda x, window, rows: rows_per_strip
            try:
                moving = b.clone().requires_grad_(True)
                return torch.autograd.grad(fn(a, moving).sum(), moving)[0]
            finally:
                S._strip_rows = original

        strips = grad(None)
        whole = grad(10**6)
        auto_rows = S._strip_rows(a, S.gaussian_window(11, 1.5, a.device, a.dtype), None)
        diff = float((strips - whole).abs().max())
        rows.append([name, f"{size}", f"{auto_rows}", f"{diff:.1e}", f"{diff / float(whole.abs().max()):.1e}"])
    return table(["metric", "px", "rows per strip", "max |strips - one pass|", "relative"], rows)


def bench_memory(repeats: int) -> str:
    cases = [("ssim", "gradient", 1024), ("ms-ssim", "gradient", 2048), ("ms-ssim", "gradient", 4096),
             ("ssim", "gradient", 4096), ("ms-ssim", "gradient", 8192), ("lpips", "gradient", 1024),
             ("lpips", "gradient", 4096), ("reference-ms-ssim", "gradient", 4096)]
    rows = []
    for metric, strategy, size in cases:
        out = subprocess.run([sys.executable, __file__, "--child-memory", metric, strategy, str(size)],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            rows.append([f"{strategy}+{metric}", size, "failed", out.stderr.strip().splitlines()[-1:]])
            continue
        data = json.loads(out.stdout.strip().splitlines()[-1])
        label = (f"{strategy}+{metric}" if metric != "reference-ms-ssim"
                 else "autograd through pytorch_msssim.ms_ssim (before)")
        rows.append([label, f"{size}x{size}", f"{data['peak_mib']:.0f}", f"{data['peak_mib'] - data['base_mib']:.0f}",
                     f"{data['seconds']:.1f}"])
    metrics = table(["pipeline (one RGB pair)", "size", "peak RSS (MiB)", "above the inputs, loaded (MiB)", "seconds"],
                    rows)
    return metrics + "\n\n" + bench_command_memory(repeats)


#: Pipelines whose whole command (decode, compute, write) is measured per pixel: label -> ``dfind`` options.
COMMAND_PIPELINES = {
    "default (difference+mse, preset)": [],
    "difference+mse": ["-m", "mse", "-s", "difference"],
    "difference+ssim": ["-m", "ssim", "-s", "difference"],
    "gradient+mse": ["-m", "mse", "-s", "gradient"],
    "gradient+ssim (preset sharp)": ["-m", "ssim", "-s", "gradient"],
    "tolerant+mse": ["-m", "mse", "-s", "tolerant"],
    "tolerant+ssim": ["-m", "ssim", "-s", "tolerant"],
}


def bench_command_memory(repeats: int, sizes: tuple[int, ...] = (2048, 4096), target: int = 6000) -> str:
    """``dfind A.png B.png -o OUT`` per pipeline, each run in a fresh process: bytes per pixel, and the peak at ``target`` px.

    Bytes per pixel are the peak above the process's resident memory once dfind and torch are
    loaded, divided by the pair's pixels (the inputs, decoding, the pipeline and the written
    files all count); the last column is the whole process's peak on a ``target`` x ``target``
    pair: what a machine must hold.
    """
    rows = []
    with scratch() as folder:
        pairs = {size: write_pair_pngs(folder, size) for size in (*sizes, target)}
        for label, options in COMMAND_PIPELINES.items():
            row: list[object] = [label]
            for size in (*sizes, target):
                data = _command_child(pairs[size], options, folder / "out")
                if "error" in data:
                    row.append(f"failed: {data['error']}")
                elif size == target:
                    row.append(f"{data['peak_mib'] / 1024:.2f} GiB ({data['seconds']:.0f} s)")
                else:
                    row.append(f"{(data['peak_mib'] - data['base_mib']) * 2**20 / size**2:.1f}")
            rows.append(row)
            print(f"  memory: {label} done", file=sys.stderr)
    return table(["dfind A.png B.png -o OUT (RGB PNGs)", *(f"B/px at {s}x{s}" for s in sizes),
                  f"peak at {target}x{target}"], rows)


def write_pair_pngs(folder: Path, size: int) -> tuple[Path, Path]:
    """One RGB pair of ``size`` px as PNG files (:func:`pair_tensors`), for the command-level memory rows."""
    import numpy as np
    from PIL import Image

    a, b = pair_tensors(size)
    paths = (folder / f"a{size}.png", folder / f"b{size}.png")
    for path, tensor in zip(paths, (a, b)):
        Image.fromarray((tensor[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)).save(path)
    return paths


def _command_child(pair: tuple[Path, Path], options: list[str], out: Path) -> dict[str, object]:
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run([sys.executable, __file__, "--child-command", str(pair[0]), str(pair[1]), str(out),
                           json.dumps(options)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_command(a: str, b: str, out: str, options: list[str]) -> None:
    """Run ``dfind A B -o OUT OPTIONS`` in this process and print its peak above the loaded process.

    A first run on a small pair loads every module and builds what the stages build on first
    use; the peak is then reset (``clear_refs``) and read from /proc (``VmHWM``).
    """
    import numpy as np
    from PIL import Image

    from dfcore.cli.app import main

    def command(x: str, y: str, target: str) -> None:
        try:
            main([x, y, "-o", target, "--quiet", *options], standalone_mode=True)
        except SystemExit as stop:
            if stop.code not in (0, None):
                raise RuntimeError(f"dfind exited with {stop.code}") from None

    small = Path(out).with_name("warm")
    small.mkdir(parents=True, exist_ok=True)
    for name in ("a.png", "b.png"):
        Image.fromarray(np.random.default_rng(len(name)).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(
            small / name)
    command(str(small / "a.png"), str(small / "b.png"), str(small / "out"))
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_mib("VmRSS")
    start = time.perf_counter()
    command(a, b, out)
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_mib": _status_mib("VmHWM"), "base_mib": base, "seconds": seconds}))


def _status_mib(key: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of this process from /proc, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(f"no {key} in /proc/self/status")


def child_memory(metric: str, strategy: str, size: int) -> None:
    """Run one pair and print its peak resident memory: the peak is reset once inputs exist.

    ``ru_maxrss`` survives ``exec`` (a child started from a big process inherits its figure),
    so the peak is read from /proc (``VmHWM``), after resetting it through ``clear_refs``.
    """
    import torch

    from dfcore import Finder

    a, b = pair_tensors(size)
    if metric == "reference-ms-ssim":
        from pytorch_msssim import ms_ssim

        def run():
            moving = b.clone().requires_grad_(True)
            torch.autograd.grad(ms_ssim(a, moving, data_range=1.0, size_average=False).sum(), moving)
    else:
        finder = Finder(metric=metric_ref(metric), strategy=strategy, device="cpu")
        finder.run(*pair_tensors(192))  # whatever a stage builds on first use is built before measuring

        def run():
            finder.run(a, b)
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_mib("VmRSS")
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_mib": _status_mib("VmHWM"), "base_mib": base, "seconds": seconds}))


def bench_startup(repeats: int) -> str:
    dfind = shutil.which("dfind", path=str(Path(sys.executable).parent)) or "dfind"
    times = timed(lambda: subprocess.run([dfind, "--list-plugins"], capture_output=True, check=True), repeats + 2)
    return table(["command", "median ms", "min ms"],
                 [["dfind --list-plugins", f"{med(times) * 1000:.0f}", f"{min(times) * 1000:.0f}"]])


def bench_compile(repeats: int) -> str:
    """The fused SSIM kernel's compile cost, cold and from torch's on-disk cache, each in a fresh process."""
    rows = []
    with scratch() as cache:
        for metric in ("ssim", "ms-ssim"):
            for state in ("cold cache", "warm cache"):
                out = subprocess.run([sys.executable, __file__, "--child-compile", metric, str(repeats)],
                                     capture_output=True, text=True, check=False,
                                     env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache / metric)})
                if out.returncode != 0:
                    rows.append([metric, state, "failed", (out.stderr.strip().splitlines() or [""])[-1], "", ""])
                    continue
                data = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append([metric, state, f"{data['first']:.1f}", f"{data['eager'] * 1000:.0f}",
                             f"{data['compiled'] * 1000:.0f}", f"{data['eager'] / data['compiled']:.2f}x"])
    return table(["gradient of, 1024 px RGB", "torch's cache", "first compiled call (s)", "eager ms (median)",
                  "compiled ms (median)", "compiled speed-up"], rows)


def child_compile(metric: str, repeats: int) -> None:
    """Time the first compiled call of gradient+``metric`` in this fresh process, then eager against compiled."""
    from dfcore import Finder

    a, b = pair_tensors(1024)
    finder = Finder(metric=metric, strategy="gradient", device="cpu")
    with_compile("0", lambda: finder.compute(a, b))()  # eager warm-up: what a run has done before compiling
    start = time.perf_counter()
    with_compile("1", lambda: finder.compute(a, b), native=False)()
    first = time.perf_counter() - start
    times = compare([("eager", with_compile("0", lambda: finder.compute(a, b))),
                     ("compiled", with_compile("1", lambda: finder.compute(a, b), native=False))], repeats)
    print(json.dumps({"first": first, "eager": med(times["eager"]), "compiled": med(times["compiled"])}))


BENCHES = {
    "pairs": ("Per pair, in memory (Finder.run on tensors)", bench_pairs),
    "default": ("The default pipeline against plain |a-b|", bench_default),
    "pages": ("The default on pages drawn again, with and without its glyph windows", bench_pages),
    "ssim": ("gradient+ssim against autograd through pytorch_msssim", bench_ssim),
    "batch": ("Folder throughput", bench_batch),
    "io": ("difference against the I/O floor", bench_io),
    "lpips": ("lpips over a folder", bench_lpips),
    "decode": ("Background decoding: threads or processes", bench_decode),
    "strips": ("SSIM in strips against one pass", bench_strips),
    "memory": ("Peak memory of one pair", bench_memory),
    "startup": ("Start-up", bench_startup),
    "compile": ("torch.compile", bench_compile),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(BENCHES)} (default: all but compile)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median reported)")
    parser.add_argument("--child-memory", nargs=3, metavar=("METRIC", "STRATEGY", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--child-compile", nargs=2, metavar=("METRIC", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-command", nargs=4, metavar=("A", "B", "OUT", "OPTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DFIND_COMPILE", "0")  # sections run eager unless they compare the compiled kernel
    if args.child_compile:
        sys.path.insert(0, str(ROOT))
        child_compile(args.child_compile[0], int(args.child_compile[1]))
        return
    if args.child_memory:
        metric, strategy, size = args.child_memory
        child_memory(metric, strategy, int(size))
        return
    if args.child_command:
        a, b, out, options = args.child_command
        child_command(a, b, out, json.loads(options))
        return
    sys.path.insert(0, str(ROOT))
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    print(f"Machine: {machine()}\n")
    for name in chosen:
        title, bench = BENCHES[name]
        start = time.perf_counter()
        text = bench(args.repeats)
        print(f"### {title}\n\n{text}\n\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
