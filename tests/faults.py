"""What the fault-injection tests share: a fake installed plugin with faulty stages, and real ``dfind`` processes.

The distribution ``dfind-faulty`` 1.0 (plugin ``faulty``) offers stages that misbehave on
purpose: ``slow`` (MSE that sleeps ``DFIND_TEST_DELAY`` seconds per call and logs each pair it
scores to ``DFIND_TEST_LOG``), ``nan`` (a NaN score), ``boom`` (a metric that raises) and
``explode`` (a strategy that raises). ``dfind-acme`` 2.0 (plugin ``acme``) offers a preset
named ``default``, as a third party might, and ``faulty`` and ``acme`` both offer ``fancy``.
Pairs made by :func:`numbered_pairs` carry their number in their top-left pixel, which
``slow`` logs with the process id, so a test can tell which process computed which pair.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from dfcore.testing import fake_distribution
from tests.cli.test_third_party import clean_env as env  # the environment of a dfind process, plugins on its path

FAULTY = {"faulty_plugin.py": """
    from dfcore import PresetSpec, StageSpec, hookimpl

    @hookimpl
    def dfind_metrics():
        yield StageSpec("slow", "faulty_stages:Slow", "MSE, slowly, logging each pair", higher_is_better=False)
        yield StageSpec("nan", "faulty_stages:NotANumber", "a NaN score", higher_is_better=False)
        yield StageSpec("boom", "faulty_stages:Boom", "raises", higher_is_better=False)

    @hookimpl
    def dfind_strategies():
        yield StageSpec("explode", "faulty_stages:Explode", "raises")

    @hookimpl
    def dfind_presets():
        yield PresetSpec("fancy", "faulty's fancy", {"metric": "builtin.mse", "strategy": "builtin.difference"})
    """, "faulty_stages.py": """
    import os
    import time

    import torch

    class Slow:
        higher_is_better = False

        def __call__(self, x, y):
            with open(os.environ["DFIND_TEST_LOG"], "a") as log:
                for sample in x:
                    log.write(f"{os.getpid()} {round(float(sample[0, 0, 0]) * 255)}\\n")
            time.sleep(float(os.environ.get("DFIND_TEST_DELAY", "0")))
            return ((x - y) ** 2).flatten(1).mean(1)

    class NotANumber:
        higher_is_better = False

        def __call__(self, x, y):
            return torch.full((x.shape[0],), float("nan"), device=x.device)

    class Boom:
        higher_is_better = False

        def __call__(self, x, y):
            raise RuntimeError("kaboom")

    class Explode:
        def __call__(self, problem):
            raise ValueError("the strategy fell over")
    """}
ACME = {"acme_plugin.py": """
    from dfcore import PresetSpec, hookimpl

    @hookimpl
    def dfind_presets():
        yield PresetSpec("default", "acme's idea of a default", {"metric": "builtin.psnr", "strategy": "builtin.gradient"})
        yield PresetSpec("fancy", "acme's fancy", {"metric": "builtin.ssim", "strategy": "builtin.gradient"})
    """}


def make_plugins(root: Path) -> Path:
    """Write the two fake distributions under ``root`` (put it on ``PYTHONPATH``); returns ``root``."""
    fake_distribution(root, "dfind-faulty", "1.0", {"faulty": "faulty_plugin"}, FAULTY)
    fake_distribution(root, "dfind-acme", "2.0", {"acme": "acme_plugin"}, ACME)
    return root


def numbered_pairs(root: Path, count: int, size: tuple[int, int] = (24, 32), names: Sequence[str] | None = None
                   ) -> tuple[Path, Path]:
    """``root/A`` and ``root/B``: ``count`` pairs (``00.png``...), pair i with the value i in A's top-left pixel."""
    names = list(names) if names is not None else [f"{i:02d}.png" for i in range(count)]
    for index, name in enumerate(names):
        rng = np.random.default_rng(index)
        a = rng.integers(0, 200, (*size, 3), dtype=np.uint8)
        a[0, 0] = index
        b = a.copy()
        b[4:10, 6:14] = 255
        for side, pixels in (("A", a), ("B", b)):
            path = root / side / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    return root / "A", root / "B"


def dfind_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("dfind")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from dfcore.cli import main; main()"]
    return [*command, *map(str, args)]


def start(*args: str, environment: dict[str, str], **popen: object) -> subprocess.Popen:
    """Start ``dfind ARGS`` in its own process."""
    return subprocess.Popen(dfind_command(*args), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def dfind(*args: str, environment: dict[str, str], **popen: object) -> subprocess.CompletedProcess:
    """Run ``dfind ARGS`` in its own process and wait for it."""
    return subprocess.run(dfind_command(*args), env=environment, capture_output=True, text=True, check=False,
                          timeout=300, **popen)


def computed(log: Path) -> list[tuple[int, int]]:
    """``(pid, pair number)`` for every pair the ``slow`` metric scored, in order."""
    if not log.exists():
        return []
    return [tuple(map(int, line.split())) for line in log.read_text().splitlines()]  # type: ignore[misc]


def wait_until(condition, process: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    """Poll ``condition()`` until true; fail if ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended first: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError("timed out")


def pair_jsons(out: Path) -> list[Path]:
    """The pairs' JSON records under ``out`` (the run's summary left out)."""
    return sorted(p for p in out.rglob("*.json") if not (p.parent == out and p.name == "summary.json"))
