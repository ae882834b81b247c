"""dfind's extra stages: the plugin ``extra`` of the distribution ``dfind``."""
