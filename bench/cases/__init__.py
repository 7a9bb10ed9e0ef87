"""The benchmarks: one module per benchmark, each exposing ``run(ctx) -> Report`` (see :mod:`bench.harness`).

Add a benchmark by adding a module here; ``python -m bench.run --list`` finds it. Modules whose
name starts with an underscore are helpers, not benchmarks.
"""
