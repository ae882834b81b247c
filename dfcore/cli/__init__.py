"""The ``dfind`` command line: one module per command, each thin over the library.

* :mod:`~dfcore.cli.diff` -- ``dfind A B`` (two images or two folders), the default command;
* :mod:`~dfcore.cli.compare` -- ``dfind compare TRUTH A B``;
* :mod:`~dfcore.cli.check_metric` -- ``dfind check-metric NAME``;
* :mod:`~dfcore.cli.rescale` -- ``dfind rescale FOLDERS...``;
* :mod:`~dfcore.cli.report` -- ``dfind report TARGET``;
* :mod:`~dfcore.cli.approve` -- ``dfind approve OUT [NAME...]``;
* :mod:`~dfcore.cli.plugins` -- the ``--list-plugins`` listing;
* :mod:`~dfcore.cli.common` -- exit codes, one-line errors, shared options;
* :mod:`~dfcore.cli.process` -- what the command sets in its own process (glibc's allocator);
* :mod:`~dfcore.cli.app` -- the group that gathers them (the console script's ``main``).

Exit codes: 0 = ran (and every score is within ``--fail-above``), 1 = a score is beyond
``--fail-above``, 2 = usage or input error, 3 = a folder run in which some pairs failed.
Importing this package imports torch only once a comparison actually runs.
"""

from __future__ import annotations

from dfcore.cli.app import main
from dfcore.cli.common import EXIT_DIFFERENT, EXIT_ERROR, EXIT_OK, EXIT_PAIRS_FAILED
from dfcore.cli.plugins import listing_data, render_listing

__all__ = ["EXIT_DIFFERENT", "EXIT_ERROR", "EXIT_OK", "EXIT_PAIRS_FAILED", "listing_data", "main", "render_listing"]
