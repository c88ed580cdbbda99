"""Benchmarks: inference engines timed against each other, and training throughput."""
