"""Synthetic RL runs for the demo, tests and benchmarks (not part of the analysis core):
``generator`` writes runs with planted drift and awareness; ``vocab`` holds its word pools."""
