"""Shared kernels for stages: what several plugins compute the same way, written once.

* :mod:`~dfcore.ops.filters` -- Gaussian and separable filtering, multi-scale smoothing;
* :mod:`~dfcore.ops.shift` -- shift tolerance and phase-correlation translation estimates;
* :mod:`~dfcore.ops.channels` -- combining a per-channel map into one;
* :mod:`~dfcore.ops.gradients` -- the gradient of a bound metric with respect to an image;
* :mod:`~dfcore.ops.regions` -- connected regions of change masks;
* :mod:`~dfcore.ops.checks` -- shape checks with one wording for every stage.

Plugins (built-in or not) may import these; they import only :mod:`dfcore.contracts`,
:mod:`dfcore.errors` and torch/numpy/OpenCV. Everything stays on the input's device unless
a function says otherwise (region labelling runs on the host).
"""
