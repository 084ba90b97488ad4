"""Benchmarks: each prints its figures; none asserts a wall-clock threshold."""
