"""Input files checked before anything heavy loads: a missing or unreadable image fails at once.

The command line checks its inputs here before it imports torch, so a mistyped path or a
file that is not an image is reported in a fraction of a second instead of after the
pipeline is built; :mod:`dfcore.io.images` reads files through the same checks, in the same
words.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from dfcore.errors import InputError

#: What an image file that Pillow does not recognise is told.
NOT_AN_IMAGE = "not an image Pillow can read (PNG, JPEG, TIFF, WebP, BMP)"


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or an :class:`InputError` when it is missing or a folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image")
    return path


def check_image_file(path: str | os.PathLike[str]) -> Path:
    """:func:`check_file`, then the file's header read by Pillow (nothing decoded).

    Raises:
        InputError: the file is missing, a folder, unreadable, or not an image Pillow knows.
    """
    path = check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path):
                pass
    except Image.DecompressionBombError:
        pass  # its size is judged when it is decoded (DFIND_MAX_PIXELS may allow it)
    except UnidentifiedImageError:
        raise InputError(f"{path}: {NOT_AN_IMAGE}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return path


__all__ = ["NOT_AN_IMAGE", "check_file", "check_image_file"]
