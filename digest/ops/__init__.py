"""digest/ops."""
