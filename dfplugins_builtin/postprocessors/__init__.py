"""Built-in postprocessors: map -> map (and optionally a mask and regions)."""
