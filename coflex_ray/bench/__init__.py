"""Benchmarks: ``python -m coflex_ray.bench NAME``. Each prints measured numbers and the machine."""
