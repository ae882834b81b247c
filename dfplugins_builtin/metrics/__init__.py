"""Built-in metrics: one value per sample, shape [N], each declaring higher_is_better."""
