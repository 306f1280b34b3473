"""Benchmarks of the blue/green workflow on the embedded emulator (``python -m bench.run``)."""
