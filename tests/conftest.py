"""Fixtures shared by the whole suite.

Every test starts from the same process state: no plugin-related environment variable, and no
process-wide registry left over from another test (one is built on first use, or given by the
``registry`` fixture). SSIM runs eager (``DFIND_COMPILE=0``), so that no test pays for a
compilation that its predecessors' eager time triggered; the tests of the fused kernel choose
for themselves.
"""

from __future__ import annotations

import os

import pytest

from dfcore.io.images import MAX_PIXELS_ENV
from dfcore.plugin.loading import AUTOLOAD_ENV, TRACE_ENV
from dfcore.plugin.registry import Registry, set_registry
from dfcore.testing import fresh_registry, using_registry
from dfplugins_builtin.metrics.ssim_fused import COMPILE_ENV
from dfplugins_builtin.metrics.ssim_native import CACHE_ENV


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests where CUDA is missing (torch is imported only then)."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kernel_cache(tmp_path_factory: pytest.TempPathFactory):
    """The session's cache of built kernels (``DFIND_CACHE_DIR``): the user's is never touched."""
    return tmp_path_factory.mktemp("kernel-cache")


@pytest.fixture(autouse=True)
def _clean_process_state(kernel_cache):
    variables = (AUTOLOAD_ENV, TRACE_ENV, MAX_PIXELS_ENV)
    saved = {name: os.environ.pop(name, None) for name in (*variables, COMPILE_ENV, CACHE_ENV)}
    os.environ[COMPILE_ENV] = "0"
    os.environ[CACHE_ENV] = str(kernel_cache)
    previous = set_registry(None)
    yield
    set_registry(previous)
    for name, value in saved.items():  # also undoes what code under test set (--disable-plugin-autoload)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def registry() -> Registry:
    """A new registry of dfind's own plugins, made the process-wide one for the test."""
    with using_registry(fresh_registry()) as registry:
        yield registry
