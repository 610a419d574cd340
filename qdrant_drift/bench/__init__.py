"""Benchmarks behind ``qdrant-drift bench ...`` (data loading apart from measuring)."""
