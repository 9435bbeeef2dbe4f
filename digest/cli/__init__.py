"""digest/cli."""
