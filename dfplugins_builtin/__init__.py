"""dfind's built-in stages: the plugin ``builtin`` of the distribution ``dfind``."""
