"""What the ``dfind`` command sets in its own process before any work: glibc's allocator keeps freed arrays.

glibc's ``malloc`` serves a block above its mapping threshold (128 KiB at start, raised as such
blocks are freed) with fresh pages from the system and gives them back when it is freed; it also
gives back the free top of its heap beyond a trim threshold. A pipeline's full-size temporaries
(a 1024 px plane is 4 MiB, a full-HD RGB image 24 MiB) are then mapped anew, pair after pair and
pass after pass, and each page is zeroed by the kernel on its first touch. The command keeps
blocks up to :data:`MAP_BYTES` in the heap and up to :data:`TRIM_BYTES` free at its top, so a
pass reuses the memory of the one before: the same results, fewer page faults
(``docs/performance.md``). A block larger than :data:`MAP_BYTES` (a 6000 px image's planes) is
mapped and given back as before, so the peak memory of large pairs does not change.

Only the command line, which owns its process, sets this: ``import dfcore`` and ``Finder`` leave
their host process's allocator as they find it. Outside glibc (macOS, Windows, musl) nothing is
set; a ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` in the environment (glibc's own
way of setting them) is left to decide.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: Blocks up to this many bytes stay in the heap when freed (glibc's ``M_MMAP_THRESHOLD``).
MAP_BYTES = 64 << 20
#: The heap keeps up to this many free bytes at its top (glibc's ``M_TRIM_THRESHOLD``).
TRIM_BYTES = 256 << 20
#: glibc's ``mallopt`` parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: The environment variables by which glibc takes them instead.
ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory() -> bool:
    """Set glibc's thresholds (module docstring); whether they were set."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in ENVIRONMENT):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- present in glibc only (musl has a mallopt that does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MAP_BYTES) and mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))


__all__ = ["ENVIRONMENT", "MAP_BYTES", "TRIM_BYTES", "keep_freed_memory"]
