"""An example dfind plugin: the Charbonnier metric and a Sobel edge preprocessor.

The stages are declared in :mod:`dfind_metric_example.plugin` (no torch import there) and
implemented in :mod:`dfind_metric_example.charbonnier` and :mod:`dfind_metric_example.sobel`,
which dfind imports only when a stage is used.
"""

__version__ = "0.1.0"
