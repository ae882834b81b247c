"""dfind's extra postprocessors."""
