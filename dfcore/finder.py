"""The Python API: :class:`Finder`, a pipeline that takes two images, two batches or two folders.

>>> from dfcore import Finder                                   # doctest: +SKIP
>>> result = Finder(metric="ssim", strategy="gradient").run("a.png", "b.png")  # doctest: +SKIP
>>> result.map.shape, result.score                             # doctest: +SKIP
>>> Finder().run("refs", "outputs").save("maps")               # doctest: +SKIP

A :class:`Finder` is a :class:`~dfcore.pipeline.Pipeline` (stages built once, then reused for
every pair) that also hands folders to the folder runner (:mod:`dfcore.runs`): it sits above
both, so neither needs the other. Stage references, presets and the conventions are those of
:class:`~dfcore.pipeline.Pipeline`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dfcore.errors import InputError, ParameterError
from dfcore.io.pairing import PairBy, Pairing, check_found, make_pairing, no_triples_message, pair_three
from dfcore.pipeline import CompareResult, DiffResult, Pipeline
from dfcore.runs import DEFAULT_BATCH_SIZE, CompareRun, DirRun, check_on_error


class Finder(Pipeline):
    """A difference-map pipeline for two images, two batches or two folders.

    Built as a :class:`~dfcore.pipeline.Pipeline` is, with the same arguments: the stages
    (``preprocessor``, ``metric``, ``strategy``, ``postprocessor``: a reference, ``None`` for
    the preset's), ``preset``, ``device``, ``registry`` and the input conventions
    (``y_channel``, ``crop_border``, ``size_policy``). Stages are built once, here; every
    pair, batch and folder run reuses them.
    """

    def run(self, a: Any, b: Any, *, name: str | None = None, on_error: str = "raise",  # type: ignore[override]
            truth: Any = None, ignore: Any = None, pair_by: PairBy | str | None = None,
            on_empty: str | None = None) -> DiffResult | list[DiffResult] | DirRun:
        """Compare two images, a batch, or two folders.

        ``a`` and ``b`` are paths, PIL images, numpy arrays (HxW, HxWxC) or torch tensors
        (HxW, CxHxW, NxCxHxW); see :mod:`dfcore.io.images` for the layout rule. One pair gives
        a :class:`~dfcore.pipeline.DiffResult`; a batch of N > 1 gives a list; two folders give
        a :class:`~dfcore.runs.DirRun` that yields one result per pair, paired by relative path
        unless ``pair_by`` says otherwise (``on_error``, ``pair_by`` and ``on_empty``: see
        :meth:`run_dirs`).

        ``truth`` is a ground-truth mask of where A and B differ (non-zero = changed): a
        file, PIL image, numpy array (HxW, HxWxC), tensor (HxW, CxHxW, or NxCxHxW for a
        batch) or a list of them, one per sample; for folders, a folder of masks paired by
        relative path. Each result then carries an :class:`~dfcore.pipeline.Evaluation`.
        The mask is read and checked against A's size before anything is computed.

        ``ignore``: pixels that must not count, on A's grid, for every pair: a mask (file,
        array, PIL image or tensor; non-zero = ignore), rectangles ``"x0:y0-x1:y1,..."`` or
        ``(x0, y0, x1, y1)`` tuples, or a list of these (see :mod:`dfcore.io.masks`).
        """
        if _is_dir(a) or _is_dir(b):
            if not (_is_dir(a) and _is_dir(b)):
                raise InputError(f"{a if _is_dir(a) else b} is a folder but the other input is not")
            return self.run_dirs(a, b, on_error=on_error, truth=truth, ignore=ignore, pair_by=pair_by,
                                 on_empty=on_empty or "warn")
        _folders_only(pair_by, on_empty)
        return super().run(a, b, name=name, truth=truth, ignore=ignore)

    def run_dirs(self, dir_a: str | os.PathLike[str] | None = None, dir_b: str | os.PathLike[str] | None = None, *,
                 pairs: str | os.PathLike[str] | None = None, on_error: str = "raise", recursive: bool = True,
                 truth: str | os.PathLike[str] | None = None, ignore: Any = None,
                 batch_size: int | None = None, workers: int | None = None, pair_by: PairBy | str | None = None,
                 on_empty: str = "warn", pairing: Pairing | None = None) -> DirRun:
        """Pair two folders (or read a ``pairs`` CSV file) for a folder run.

        The :class:`~dfcore.runs.DirRun` yields one result per pair when iterated, and
        ``.save(output)`` writes every pair's files plus ``summary.csv``/``summary.json``,
        resuming an earlier run. Same-size pairs are computed ``batch_size`` at a time while
        ``workers`` threads decode the next ones (see :mod:`dfcore.runs`). With
        ``on_error="record"`` a pair that fails yields a :class:`~dfcore.pipeline.PairFailure`
        and the run goes on; with ``"raise"`` (the default) the error propagates.

        ``pair_by``: how the folders pair (:mod:`dfcore.io.pairing`): ``"path"`` (the default:
        same relative path), ``"order"`` (same position in each folder's sorted listing),
        ``"stem"`` (same name without extension), or a :class:`~dfcore.io.pairing.PairBy` with
        options, such as ``PairBy.stem(strip_b="_x4_SR")`` or ``PairBy.order(allow_unequal=True)``.
        ``run.pairing`` holds the pairs and the files left on one side. Folders that give no
        pair warn (:class:`~dfcore.errors.NoPairsWarning`); ``on_empty="raise"`` raises
        :class:`~dfcore.errors.NoPairsError` instead. An ambiguous match, or folders of
        different lengths by order, raise :class:`~dfcore.errors.PairingError`.

        ``truth``: a folder of ground-truth masks, found by the pair's name (A's relative
        path, any image extension); a pair without one fails. ``ignore`` applies to every pair.

        ``pairing``: pairs made beforehand (:func:`~dfcore.io.pairing.make_pairing`, which
        takes the folders, ``pairs``, ``recursive``, ``pair_by`` and ``on_empty`` instead).
        """
        check_on_error(on_error)
        if truth is not None and not _is_dir(truth):
            raise InputError(f"{truth}: with two folders, the truth must be a folder of masks")
        if pairing is None:
            pairing = make_pairing(dir_a, dir_b, pairs, recursive, pair_by, on_empty)
        elif (dir_a, dir_b, pairs, pair_by) != (None, None, None, None):
            raise ParameterError("give the pairing, or the folders (or pairs file) and pair_by to make one; not both")
        return DirRun(self, pairing, on_error, truth=truth, ignore=ignore,
                      batch_size=batch_size or DEFAULT_BATCH_SIZE, workers=workers)

    def compare(self, truth: Any, a: Any, b: Any, *, name: str | None = None,  # type: ignore[override]
                on_error: str = "raise", ignore: Any = None, pair_by: PairBy | str | None = None,
                on_empty: str | None = None) -> CompareResult | list[CompareResult] | CompareRun:
        """Which of two reconstructions is closer to the truth, and where.

        Returns a :class:`~dfcore.pipeline.CompareResult` (a batch: a list of them; three
        folders: a :class:`~dfcore.runs.CompareRun`, with ``on_error``, ``pair_by`` and
        ``on_empty`` as in :meth:`run_dirs`; the truth is paired with A and with B, and
        ``PairBy.stem(strip_truth=...)`` names the truth's affixes). The map is A's error map
        minus B's, both made by this pipeline against ``truth``: negative (blue) where A is
        closer, positive (red) where B is. See :mod:`dfcore.pipeline.compare`.
        """
        inputs = {"truth": truth, "a": a, "b": b}
        folders = [role for role, value in inputs.items() if _is_dir(value)]
        if not folders:
            _folders_only(pair_by, on_empty)
            return super().compare(truth, a, b, name=name, ignore=ignore)
        if len(folders) != 3:
            files = ", ".join(role for role in inputs if role not in folders)
            raise InputError(f"{', '.join(folders)} {'is a folder' if len(folders) == 1 else 'are folders'} "
                             f"but {files} {'is not' if len(folders) == 2 else 'are not'}: give three files or three folders")
        check_on_error(on_error)
        triples = pair_three(truth, a, b, pair_by=pair_by)
        check_found(len(triples.triples), no_triples_message(triples, truth, a, b), on_empty or "warn")
        return CompareRun(self, triples, on_error, ignore=ignore)


def _folders_only(pair_by: Any, on_empty: Any) -> None:
    given = [name for name, value in (("pair_by", pair_by), ("on_empty", on_empty)) if value is not None]
    if given:
        raise ParameterError(f"{' and '.join(given)}: only for folders")


def _is_dir(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike)) and Path(x).is_dir()


__all__ = ["Finder"]
