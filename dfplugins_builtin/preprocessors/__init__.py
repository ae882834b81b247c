"""Built-in preprocessors: differentiable per-image transforms (NxCxHxW -> NxCxHxW)."""
