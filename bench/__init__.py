"""Benchmarks: each starts what it needs, prints its figures and writes bench/results/."""
