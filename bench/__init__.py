"""Benchmarks at prefecture scale, each measured side by side with the peer a user would otherwise use.

Run ``python -m bench.run --list`` to see them and ``python -m bench.run NAME ...`` to run them;
results are appended to ``bench/RESULTS.md``. See ``bench/README.md``.
"""
