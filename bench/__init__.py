"""Benchmarks against the real services; each reports a ratio to a baseline measured in the same run."""
