"""dfind's extra metrics."""
