"""digest/eval."""
