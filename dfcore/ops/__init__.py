"""Shared kernels for stages: what several plugins compute the same way, written once.

* :mod:`~dfcore.ops.filters` -- Gaussian and separable filtering, multi-scale smoothing;
* :mod:`~dfcore.ops.shift` -- shift tolerance and phase-correlation translation estimates;
* :mod:`~dfcore.ops.channels` -- combining a per-channel map into one;
* :mod:`~dfcore.ops.gradients` -- the gradient of a bound metric with respect to an image;
* :mod:`~dfcore.ops.regions` -- connected regions of change masks: the differences a map holds;
* :mod:`~dfcore.ops.parts`, :mod:`~dfcore.ops.moves`, :mod:`~dfcore.ops.recolours`,
  :mod:`~dfcore.ops.pushes`, :mod:`~dfcore.ops.lines`, :mod:`~dfcore.ops.frame`,
  :mod:`~dfcore.ops.drift` -- which of them are one difference (a thing moved, one recolouring,
  the strips one push leaves, one line of text), and which are a scanned page's frame or a
  layout's drift;
* :mod:`~dfcore.ops.register`, :mod:`~dfcore.ops.glyphs` -- a misregistration measured tile by
  tile; where a pair holds text-sized marks;
* :mod:`~dfcore.ops.strips`, :mod:`~dfcore.ops.host` -- a local map in bands of rows or in boxes;
  when NumPy reads a tensor's memory;
* :mod:`~dfcore.ops.params`, :mod:`~dfcore.ops.checks` -- one check for fraction knobs, shape
  checks with one wording for every stage.

Plugins (built-in or not) may import these; they import only :mod:`dfcore.contracts`,
:mod:`dfcore.errors` and torch/numpy/OpenCV. Everything stays on the input's device unless
a function says otherwise (region labelling runs on the host).
"""
