"""Benchmarks for BIN over Matrix (issue 8): `make bench` runs `python -m bench.run`."""
