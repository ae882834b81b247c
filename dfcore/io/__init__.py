"""Files on the host: what comes in (images, masks, folders to pair) and what goes out.

* :mod:`~dfcore.io.decode` -- image files to float arrays in [0, 1] (no torch);
* :mod:`~dfcore.io.readahead` -- decoding a command's files in a thread while torch is imported;
* :mod:`~dfcore.io.images` -- files, PIL images, arrays and tensors to NxCxHxW batches;
* :mod:`~dfcore.io.masks` -- truth masks and ignore masks;
* :mod:`~dfcore.io.pairing` -- pairing two (or three) folders, or reading a pairs file;
* :mod:`~dfcore.io.pair_rules` -- a pairing rule (:class:`~dfcore.io.pairing.PairBy`) as a value;
* :mod:`~dfcore.io.files` -- atomic writes of PNG, ``.npy``, JSON and text;
* :mod:`~dfcore.io.render` -- maps as colour pictures;
* :mod:`~dfcore.io.layout` -- the output folder: file names, statuses, JSON schemas;
* :mod:`~dfcore.io.scale` -- one colour scale for the heatmaps already written.

This layer knows nothing of stages or pipelines; it imports :mod:`dfcore.errors` only.
"""
