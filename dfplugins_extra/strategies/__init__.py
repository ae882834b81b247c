"""dfind's extra strategies."""
