"""dfind's extra stages, registered through the ``dfind`` entry-point group like any plugin."""

from __future__ import annotations
