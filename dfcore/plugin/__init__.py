"""The plugin layer: what plugins hand to dfind, and how dfind finds and indexes them.

* :mod:`~dfcore.plugin.spec` -- the records (:class:`StageSpec`, :class:`Param`,
  :class:`PresetSpec`) and the text form of stage references;
* :mod:`~dfcore.plugin.hookspecs` -- the hooks a plugin implements, and the markers;
* :mod:`~dfcore.plugin.loading` -- entry-point discovery and isolated loading
  (:class:`Origin`, :class:`BrokenPlugin`);
* :mod:`~dfcore.plugin.registry` -- the :class:`Registry` built from them.

Each module imports only the ones above it in this list and :mod:`dfcore.errors`; none
imports torch, so listing plugins stays instant.
"""
