"""Extra strategies: turn a Problem into an Nx1xHxW map on the input grid."""
