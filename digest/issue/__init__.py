"""digest/issue."""
