"""dfind's extra preprocessors."""
